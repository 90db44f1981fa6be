import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KilnError } from '../../errors.ts';
import { isAlive } from '../../pid.ts';
import { classifySystemError } from '../../syserrors.ts';

// Creating a layout's folders, and removing what an interrupted run left in them.
//
// Why not `mkdir(dir, {recursive: true})`: on Node 24 it loops forever at 100% CPU when the
// parent refuses the create with something other than EEXIST/ENOENT in a way libuv retries
// (seen with `/proc/img`: the kernel answers ENOENT for a folder that can never exist). Walking
// up to the nearest existing folder and creating each missing one once cannot spin, and lets
// each failure be reported with the path that caused it.

/** Make `dir` and its missing parents; returns the folders created (outermost first), for undo. */
export async function ensureDir(dir: string, what: string): Promise<string[]> {
  const missing: string[] = [];
  let cur = dir;
  for (;;) {
    const st = await stat(cur).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined; // keep walking up to the culprit
      throw fsError(e, what);
    });
    if (st) {
      if (!st.isDirectory()) {
        throw new KilnError('NOT_A_DIRECTORY', `${cur} is a file, so ${dir} cannot be created (${what})`, {
          kind: 'usage',
          hint: 'choose a path whose parent folders are folders',
          details: { path: cur },
        });
      }
      break;
    }
    missing.unshift(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing) {
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return;
      if (e.code === 'ENOENT') {
        // The parent exists (checked above) yet refuses the folder: /proc, /sys, a stale mount.
        throw new KilnError(
          'DIR_CANNOT_CREATE',
          `cannot create ${d}: its filesystem does not allow new folders (${what})`,
          {
            kind: 'usage',
            hint: 'choose a folder on an ordinary disk, e.g. oci:./images',
            details: { path: d },
          },
        );
      }
      throw fsError(e, what);
    });
  }
  return missing;
}

/** Remove folders made by ensureDir (innermost first), when a run failed before using them. */
export async function removeCreated(created: string[]): Promise<void> {
  for (const d of [...created].reverse()) await rm(d, { recursive: true, force: true }).catch(() => {});
}

/** A filesystem error as a KilnError naming the path and the fix. */
export function fsError(e: unknown, what: string): unknown {
  return classifySystemError(e, what) ?? e;
}

/**
 * Temporary files carry the writing process's pid (`.tmp-<pid>-<rand>`, `.<file>.<pid>-<rand>.partial`):
 * files whose process is gone were left by an interrupted or killed run and are removed.
 */
export async function sweepStale(dir: string, pattern: RegExp): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m?.[1]) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true }).catch(() => {});
    removed.push(name);
  }
  return removed;
}
