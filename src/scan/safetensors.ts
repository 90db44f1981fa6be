import type { Sink } from './content.ts';
import type { FindingSink } from './types.ts';

// safetensors (huggingface/safetensors `tensor.rs`): u64 LE header length <= 100 MB, a JSON
// header, then the data. Loading never runs code, but a header that does not describe the file
// exactly (overlapping or gapped offsets, sizes that disagree with dtype x shape, trailing bytes)
// is refused by the reference loader and can mean the file was tampered with.

const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
  F4: 0.5,
  F6_E2M3: 0.75,
  F6_E3M2: 0.75,
};

export class SafetensorsScan implements Sink {
  private head: Buffer[] = [];
  private headLen = 0;
  private need = 8;
  private dataLen = -1;
  private seen = 0;
  private done = false;

  private readonly sink: FindingSink;

  constructor(sink: FindingSink) {
    this.sink = sink;
  }

  private bad(message: string): void {
    if (this.done) return;
    this.done = true;
    this.sink.add({
      rule: 'SAFETENSORS_INVALID',
      severity: 'block',
      offset: 0,
      message,
      fix: 'write the file again with safetensors (save_file / save_model)',
    });
  }

  write(b: Buffer): void {
    if (this.dataLen >= 0) {
      this.seen += b.length;
      return;
    }
    this.head.push(b);
    this.headLen += b.length;
    if (this.headLen < this.need) return;
    const h = Buffer.concat(this.head);
    this.head = [h];
    if (this.need === 8) {
      this.need = 8 + Number(h.readBigUInt64LE(0));
      if (this.headLen < this.need) return;
    }
    this.head = [];
    this.seen = h.length - this.need;
    this.dataLen = this.header(h.subarray(8, this.need).toString('utf8'));
  }

  private header(text: string): number {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.bad('the header is not JSON');
      return 0;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.bad('the header is not a JSON object');
      return 0;
    }
    const spans: [number, number, string][] = [];
    for (const [name, t] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof t !== 'object' || t === null || Object.values(t).some((v) => typeof v !== 'string'))
          this.bad('__metadata__ is not a map of strings');
        continue;
      }
      const info = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const size = DTYPE_BYTES[String(info.dtype)];
      const shape = info.shape;
      const off = info.data_offsets;
      if (size === undefined || !Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) {
        this.bad(`tensor "${name}" has no valid dtype, shape and data_offsets`);
        return 0;
      }
      const [b, e] = off as [number, number];
      const want = (shape as number[]).reduce((a, x) => a * x, size);
      if (!Number.isInteger(b) || !Number.isInteger(e) || e < b || e - b !== want) {
        this.bad(
          `tensor "${name}" spans ${e - b} bytes but ${String(info.dtype)} x [${(shape as number[]).join(', ')}] needs ${want}`,
        );
        return 0;
      }
      spans.push([b, e, name]);
    }
    spans.sort((x, y) => x[0] - y[0]);
    let at = 0;
    for (const [b, e, name] of spans) {
      if (b !== at) {
        this.bad(`tensor "${name}" starts at ${b}, expected ${at}: the data has gaps or overlaps`);
        return 0;
      }
      at = e;
    }
    return at;
  }

  end(): void {
    if (this.dataLen < 0) {
      this.bad('the file ends inside its header');
      return;
    }
    if (this.seen !== this.dataLen)
      this.bad(`the header describes ${this.dataLen} data bytes, the file holds ${this.seen}`);
  }
}
