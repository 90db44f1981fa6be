import { once } from 'node:events';
import zlib from 'node:zlib';
import type { Sink } from './content.ts';
import type { FindingSink } from './types.ts';

// A compressed stream (joblib's zlib/gzip dumps, zstd, deflated zip members) decompressed as it
// streams and fed to the scanner behind it, with backpressure: never the whole output in memory.
// A decompression bomb only costs time, bounded by MAX_OUTPUT.

export type Compression = 'zlib' | 'gzip' | 'zstd' | 'deflate-raw';

const MAX_OUTPUT = 64 * 1024 ** 3;

export class Inflater implements Sink {
  private readonly z: zlib.Inflate | zlib.Gunzip | zlib.InflateRaw | zlib.ZstdDecompress;
  private readonly pump: Promise<void>;
  private failed: Error | undefined;
  private out = 0;

  private readonly inner: Sink;
  private readonly sink: FindingSink;
  private readonly onDone: () => void;

  constructor(kind: Compression, inner: Sink, sink: FindingSink, onDone: () => void = () => {}) {
    this.inner = inner;
    this.sink = sink;
    this.onDone = onDone;
    this.z =
      kind === 'zlib'
        ? zlib.createInflate()
        : kind === 'gzip'
          ? zlib.createGunzip()
          : kind === 'zstd'
            ? zlib.createZstdDecompress()
            : zlib.createInflateRaw();
    const z = this.z;
    z.on('error', (e: Error) => {
      this.failed ??= e;
    });
    this.pump = (async () => {
      try {
        for await (const chunk of z as AsyncIterable<Buffer>) {
          this.out += chunk.length;
          if (this.out > MAX_OUTPUT) throw new Error(`decompresses to more than ${MAX_OUTPUT} bytes`);
          await inner.write(chunk);
        }
      } catch (e) {
        this.failed ??= e as Error;
        z.destroy();
      }
    })();
  }

  async write(b: Buffer): Promise<void> {
    if (this.failed || this.z.destroyed) return;
    if (!this.z.write(b)) await Promise.race([once(this.z, 'drain'), this.pump]);
  }

  async end(): Promise<void> {
    if (!this.z.destroyed) this.z.end();
    await this.pump;
    if (this.failed) {
      this.sink.add({
        rule: 'LIMIT_EXCEEDED',
        severity: 'block',
        offset: 0,
        message: `the compressed stream cannot be fully decompressed (${this.failed.message}): what a loader would read is unknown`,
        fix: 'store the model uncompressed, or re-export it',
      });
    }
    await this.inner.end();
    this.onDone();
  }
}
