// Starting several rig parts at once without leaking the ones that did start. With a bare
// `Promise.all`, one part failing (a missing tool, a port clash) loses the handles of the parts
// that came up: their processes keep the test file's event loop alive and the file hangs until
// the test timeout. `startAll` stops or removes every part that started and fails at once with
// one message naming each part that did not.
import { existsSync } from 'node:fs';

type Part = { stop?: () => Promise<void>; remove?: () => Promise<void> } | object;

export async function startAll<T extends Record<string, Promise<Part>>>(
  parts: T,
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const names = Object.keys(parts);
  const settled = await Promise.allSettled(Object.values(parts));
  const failed = names.flatMap((name, i) => {
    const r = settled[i];
    return r?.status === 'rejected' ? [`${name}: ${messageOf(r.reason)}`] : [];
  });
  if (failed.length === 0) {
    return Object.fromEntries(
      names.map((name, i) => [name, (settled[i] as PromiseFulfilledResult<Part>).value]),
    ) as { [K in keyof T]: Awaited<T[K]> };
  }
  await Promise.allSettled(
    settled.map(async (r) => {
      if (r.status !== 'fulfilled') return;
      const part = r.value as { stop?: () => Promise<void>; remove?: () => Promise<void> };
      await (part.stop ?? part.remove)?.call(part);
    }),
  );
  throw new Error(
    `test rig failed to start (${failed.length} of ${names.length} parts):\n${failed.join('\n')}`,
  );
}

/** Fail at once, naming the missing piece and the command that installs it. */
export function requireTool(path: string, what: string, part: string): void {
  if (!existsSync(path)) {
    throw new Error(`test rig: ${what} is missing (${path}): run ./scripts/setup ${part}`);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
