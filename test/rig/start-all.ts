// Starting several rig parts at once without leaking the ones that did start. With a bare
// `Promise.all`, one part failing (a missing tool, a port clash) loses the handles of the parts
// that came up: their processes keep the test file's event loop alive and the file hangs until
// the test timeout. `startAll` fails as soon as one part fails, naming it, and stops or removes
// every part that did start once it is up.
import { existsSync } from 'node:fs';

type Part = { stop?: () => Promise<void>; remove?: () => Promise<void> } | object;

export async function startAll<T extends Record<string, Promise<Part>>>(
  parts: T,
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const names = Object.keys(parts);
  const promises = Object.values(parts);
  const all = Promise.allSettled(promises);
  // Fail as soon as one part fails (a missing tool fails in milliseconds while MLflow may still
  // need seconds to start); the parts still starting are stopped once they are up.
  const firstFailure = new Promise<never>((_, reject) => {
    promises.forEach((p, i) => {
      p.catch((e: unknown) => reject(new Error(`${names[i]}: ${messageOf(e)}`)));
    });
  });
  try {
    const settled = await Promise.race([all, firstFailure]);
    return Object.fromEntries(
      names.map((name, i) => [name, (settled[i] as PromiseFulfilledResult<Part>).value]),
    ) as { [K in keyof T]: Awaited<T[K]> };
  } catch (e) {
    void all.then((settled) =>
      Promise.allSettled(
        settled.map(async (r) => {
          if (r.status !== 'fulfilled') return;
          const part = r.value as { stop?: () => Promise<void>; remove?: () => Promise<void> };
          await (part.stop ?? part.remove)?.call(part);
        }),
      ),
    );
    throw new Error(`test rig failed to start: ${(e as Error).message}`);
  }
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
