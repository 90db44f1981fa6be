import { Worker } from 'node:worker_threads';

// sha256 on a worker thread, so hashing and scanning overlap on two cores: the scan itself skips
// array payloads at memory speed, and a single-threaded sha256 (~2 GB/s) would otherwise bound a
// standalone `kiln scan`. Bounded: at most MAX_IN_FLIGHT bytes wait for the worker.

const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const h = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) parentPort.postMessage({ digest: h.digest('hex') });
  else { h.update(new Uint8Array(m)); parentPort.postMessage({ done: m.byteLength }); }
});
`;

const MAX_IN_FLIGHT = 8 << 20;

export class ParallelHash {
  private readonly worker = new Worker(WORKER, { eval: true });
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private result: ((hex: string) => void) | undefined;
  private failed: Error | undefined;

  constructor() {
    this.worker.on('message', (m: { done?: number; digest?: string }) => {
      if (m.done !== undefined) {
        this.inFlight -= m.done;
        if (this.inFlight <= MAX_IN_FLIGHT) for (const w of this.waiters.splice(0)) w();
      }
      if (m.digest !== undefined) this.result?.(m.digest);
    });
    this.worker.on('error', (e) => {
      this.failed = e;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Copies the chunk (the caller may reuse its buffer) and hands it over without a second copy. */
  async update(b: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    const copy = new Uint8Array(b).buffer;
    this.inFlight += copy.byteLength;
    this.worker.postMessage(copy, [copy]);
    if (this.inFlight > MAX_IN_FLIGHT) await new Promise<void>((r) => this.waiters.push(r));
  }

  async digest(): Promise<string> {
    if (this.failed) throw this.failed;
    const hex = await new Promise<string>((resolve) => {
      this.result = resolve;
      this.worker.postMessage(null);
    });
    await this.worker.terminate();
    return hex;
  }
}
