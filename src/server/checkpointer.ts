// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever commit
// crosses 1000 WAL pages: that commit then copies pages and fsyncs twice (measured here: p99 of
// the webhook endpoint 24 ms with it, 13 ms without). So the serving connection turns it off and
// a worker thread with its own connection runs PASSIVE checkpoints (they never block writers);
// the WAL restarts from its beginning on the next commit after a complete checkpoint.
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL');
const timer = setInterval(() => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e)); }
}, workerData.everyMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, everyMs = 250, onError?: (e: string) => void): Checkpointer {
  const worker = new Worker(WORKER, { eval: true, workerData: { path, everyMs } });
  worker.on('message', (m: string) => onError?.(m));
  worker.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.ref(); // keep the process alive until the worker has closed its connection
        worker.postMessage('stop');
      }),
  };
}
