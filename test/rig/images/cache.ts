// Built base images are cached outside the clone (~/.cache/kiln/images/NAME), keyed by a hash of
// their inputs, so a machine builds each once (`scripts/setup images`), not once per test.
// Builds go to a temp dir renamed into place; a lock dir keeps two test processes from building
// the same image at once.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, TOOLS_DIR } from '../proc.ts';

export const IMAGES_DIR = join(TOOLS_DIR, 'images');
const STAMP = 'kiln-stamp.json';

export interface Stamp {
  inputs: string;
  builtAt: string;
  buildSeconds: number;
  [key: string]: unknown;
}

export async function readStamp(dir: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

/** Returns the layout dir for `name`, building it with `build(tmpDir)` unless its stamp matches `inputs`. */
export async function cachedLayout(
  name: string,
  inputs: string,
  build: (dir: string) => Promise<Record<string, unknown>>,
): Promise<{ dir: string; stamp: Stamp; built: boolean }> {
  const dir = join(IMAGES_DIR, name);
  const fresh = await readStamp(dir);
  if (fresh?.inputs === inputs) return { dir, stamp: fresh, built: false };
  const release = await lock(join(IMAGES_DIR, `${name}.lock`));
  try {
    const again = await readStamp(dir); // another process may have built it while we waited
    if (again?.inputs === inputs) return { dir, stamp: again, built: false };
    const tmp = join(IMAGES_DIR, `.${name}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const started = Date.now();
    const extra = await build(tmp).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    });
    const stamp: Stamp = {
      ...extra,
      inputs,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
    await writeFile(join(tmp, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return { dir, stamp, built: true };
  } finally {
    await release();
  }
}

async function lock(path: string): Promise<() => Promise<void>> {
  await mkdir(IMAGES_DIR, { recursive: true });
  for (;;) {
    try {
      await mkdir(path);
      await writeFile(join(path, 'pid'), String(process.pid));
      return () => rm(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(join(path, 'pid'), 'utf8').catch(() => '0'));
      if (holder > 0 && !alive(holder)) await rm(path, { recursive: true, force: true });
      else await sleep(1000);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
