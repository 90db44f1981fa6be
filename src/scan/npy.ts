import type { ScanContext, Sink } from './content.ts';
import { PickleMachine } from './pickle/machine.ts';
import type { FindingSink } from './types.ts';

// NumPy .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): magic,
// version, a little-endian header length (2 bytes in 1.0, 4 in 2.0/3.0), a Python-literal dict.
// Object dtypes are followed by a pickle, which numpy.load(allow_pickle=True) runs: it is scanned
// like any pickle. Plain arrays must hold exactly shape x itemsize bytes.

export class NpyScan implements Sink {
  private head: Buffer[] = [];
  private headLen = 0;
  private need = 10;
  private body: 'header' | 'data' | 'pickle' | 'dead' = 'header';
  private dataLeft = -1;
  private machine: PickleMachine | undefined;

  private readonly ctx: ScanContext;
  private readonly sink: FindingSink;

  constructor(ctx: ScanContext, sink: FindingSink) {
    this.ctx = ctx;
    this.sink = sink;
  }

  private bad(message: string): void {
    this.sink.add({
      rule: 'NPY_INVALID',
      severity: 'block',
      offset: 0,
      message,
      fix: 'write the array again with numpy.save',
    });
    this.body = 'dead';
  }

  write(b: Buffer): void {
    let i = 0;
    while (i < b.length && this.body === 'header') {
      const take = Math.min(this.need - this.headLen, b.length - i);
      this.head.push(b.subarray(i, i + take));
      this.headLen += take;
      i += take;
      if (this.headLen < this.need) return;
      const h = Buffer.concat(this.head);
      const major = h[6]!;
      const lenBytes = major === 1 ? 2 : 4;
      if (h.length < 8 + lenBytes) {
        this.need = 8 + lenBytes;
        continue;
      }
      const hlen = lenBytes === 2 ? h.readUInt16LE(8) : h.readUInt32LE(8);
      if (hlen > 1 << 20) {
        this.bad('an .npy header larger than 1 MiB');
        return;
      }
      const total = 8 + lenBytes + hlen;
      if (h.length < total) {
        this.need = total;
        continue;
      }
      this.head = [];
      this.header(h.subarray(8 + lenBytes, total).toString(major >= 3 ? 'utf8' : 'latin1'));
    }
    if (i >= b.length) return;
    if (this.body === 'pickle') this.machine!.feed(b, i);
    else if (this.body === 'data') {
      this.dataLeft -= b.length - i;
      if (this.dataLeft < 0) {
        this.sink.add({
          rule: 'TRAILING_DATA',
          severity: 'block',
          offset: 0,
          message: 'bytes after the array data of an .npy file',
          fix: 'write the array again with numpy.save',
        });
        this.body = 'dead';
      }
    }
  }

  private header(text: string): void {
    const descr = /'descr'\s*:\s*('([^']*)'|\[.*\])/s.exec(text);
    const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
    if (!descr || !shape) {
      this.bad('an .npy header without descr or shape');
      return;
    }
    const d = descr[2] ?? descr[1]!;
    if (/(^|[^a-zA-Z])[|<>=]?O/.test(d)) {
      // numpy.load(allow_pickle=True) unpickles the rest of the file (C unpickler).
      this.machine = new PickleMachine({ policy: this.ctx.policy, sink: this.sink });
      this.body = 'pickle';
      return;
    }
    const dims = shape[1]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map(Number);
    const item =
      descr[2] !== undefined
        ? Number(/(\d+)$/.exec(d)?.[1] ?? Number.NaN) * (/^[<>|=]?U/.test(d) ? 4 : 1)
        : Number.NaN;
    if (dims.some((x) => !Number.isInteger(x) || x < 0)) {
      this.bad('an .npy shape that is not a tuple of sizes');
      return;
    }
    // Structured dtypes: size not computed; the data is skipped (it is never unpickled).
    this.dataLeft = Number.isFinite(item) ? dims.reduce((a, x) => a * x, item) : Number.POSITIVE_INFINITY;
    this.body = 'data';
  }

  end(): void {
    if (this.body === 'header') {
      this.bad('a truncated .npy header');
      return;
    }
    if (this.body === 'pickle') this.machine!.end();
    if (this.body === 'data' && Number.isFinite(this.dataLeft) && this.dataLeft > 0) {
      this.sink.add({
        rule: 'NPY_INVALID',
        severity: 'warn',
        offset: 0,
        message: `the .npy file is ${this.dataLeft} bytes short of its shape`,
        fix: 'write the array again with numpy.save',
      });
    }
  }
}
