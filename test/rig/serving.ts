// Waiting for a KServe V1 model server (in a container) to report its model ready.
import type { RunningContainer } from './containerd.ts';
import { sleep } from './proc.ts';

export async function waitModelReady(url: string, c: RunningContainer, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | undefined;
  void c.exited.then((code) => {
    exited = code;
  });
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`server exited ${exited}:\n${await c.logTail()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => (await r.json()) as { ready?: boolean })
      .then((b) => b.ready === true)
      .catch(() => false);
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms:\n${await c.logTail()}`);
}

/** KServe V1 protocol: `POST /v1/models/<name>:predict {"instances": [...]}`. */
export async function predict(
  base: string,
  model: string,
  instances: unknown[],
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances }),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}
