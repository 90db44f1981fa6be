// One `kiln serve` per state directory: two would both run the same queue. A pid file created
// with O_EXCL; a file left by a process that is gone (kill -9) is taken over, so a crash never
// needs manual cleanup. (Advisory: a recycled pid can at worst make a start refuse, never race.)
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../errors.ts';
import { isAlive } from '../pid.ts';

export const LOCK_FILE = 'serve.pid';

export function lockStateDir(stateDir: string): () => void {
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new KilnError('STATE_LOCKED', `another kiln serve (pid ${holder}) is using ${stateDir}`, {
          kind: 'usage',
          hint: 'stop it first, or give this one its own server.stateDir',
          details: { pid: holder, stateDir },
        });
      }
      rmSync(path, { force: true }); // left behind by a process that died
    }
  }
  throw new KilnError('STATE_LOCKED', `cannot lock ${stateDir}: ${path} keeps reappearing`, {
    hint: 'is another kiln serve starting at the same time?',
  });
}
