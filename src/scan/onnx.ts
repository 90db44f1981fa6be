import type { Sink } from './content.ts';
import type { FindingSink } from './types.ts';

// ONNX ModelProto (onnx/onnx.proto3). Loading an ONNX model runs no Python, but tensors can name
// external data files: an absolute or `..` location reads files outside the model folder
// (ModelAudit, onnxruntime advisories). kiln walks the protobuf as it streams, descending only
// into graph -> initializer -> external_data, and skips tensor payloads without copying.

const KEEP = 4096;
/** Field numbers to descend into: ModelProto.graph=7, GraphProto.initializer=5, TensorProto.external_data=13. */
const DESCEND: Record<string, Record<number, string>> = {
  model: { 7: 'graph' },
  graph: { 5: 'tensor', 15: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: { 13: 'entry' },
  entry: {},
};

export class OnnxScan implements Sink {
  private pos = 0;
  private carry = Buffer.alloc(0);
  private skip = 0;
  private frames: { type: string; end: number }[] = [{ type: 'model', end: Number.POSITIVE_INFINITY }];
  private collect: { field: number; need: number; parts: Buffer[]; got: number } | undefined;
  private entry: { key?: string; value?: string } = {};

  private readonly sink: FindingSink;

  constructor(sink: FindingSink) {
    this.sink = sink;
  }

  write(chunk: Buffer): void {
    let b = chunk;
    if (this.carry.length > 0) {
      b = Buffer.concat([this.carry, chunk.subarray(0, Math.min(chunk.length, 32))]);
      const r = this.run(b, true);
      const used = r - this.carry.length;
      this.carry = Buffer.alloc(0);
      if (used < 0) return;
      b = chunk.subarray(used);
    }
    this.run(b, false);
  }

  /** Returns how many bytes of b it consumed. */
  private run(b: Buffer, probe: boolean): number {
    let i = 0;
    while (i < b.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        this.pos += n;
        i += n;
        continue;
      }
      if (this.collect) {
        const c = this.collect;
        const n = Math.min(c.need - c.got, b.length - i);
        c.parts.push(Buffer.from(b.subarray(i, i + n)));
        c.got += n;
        this.pos += n;
        i += n;
        if (c.got === c.need) this.collected(c.field, Buffer.concat(c.parts).toString('utf8'));
        continue;
      }
      while (this.frames.length > 1 && this.pos >= this.frames.at(-1)!.end) this.leave();
      const tag = varint(b, i);
      if (!tag) break;
      const field = Number(tag.v >> 3n);
      const wire = Number(tag.v & 7n);
      let j = tag.next;
      if (wire === 0) {
        const v = varint(b, j);
        if (!v) break;
        j = v.next;
      } else if (wire === 1) j += 8;
      else if (wire === 5) j += 4;
      else if (wire === 2) {
        const len = varint(b, j);
        if (!len) break;
        j = len.next;
        const n = Number(len.v);
        const frame = this.frames.at(-1)!;
        const into = DESCEND[frame.type]?.[field];
        this.pos += j - i;
        i = j;
        if (into) {
          this.frames.push({ type: into, end: this.pos + n });
          if (into === 'entry') this.entry = {};
        } else if (frame.type === 'entry' && (field === 1 || field === 2) && n <= KEEP) {
          this.collect = { field, need: n, parts: [], got: 0 };
          if (n === 0) this.collected(field, '');
        } else this.skip = n;
        continue;
      } else {
        this.sink.add({
          rule: 'ONNX_EXTERNAL_DATA',
          severity: 'warn',
          offset: this.pos,
          message: 'the ONNX protobuf has an unknown wire type; kiln stopped reading it',
          fix: 'save the model again with onnx.save',
        });
        this.skip = Number.POSITIVE_INFINITY;
        return b.length;
      }
      if (j > b.length) break;
      this.pos += j - i;
      i = j;
    }
    if (i < b.length && !probe) this.carry = Buffer.from(b.subarray(i));
    return i;
  }

  private collected(field: number, s: string): void {
    this.collect = undefined;
    if (field === 1) this.entry.key = s;
    else this.entry.value = s;
  }

  private leave(): void {
    const f = this.frames.pop()!;
    if (f.type !== 'entry' || this.entry.key !== 'location' || this.entry.value === undefined) return;
    const loc = this.entry.value;
    if (loc.startsWith('/') || /^[a-zA-Z]:/.test(loc) || loc.split(/[\\/]/).includes('..')) {
      this.sink.add({
        rule: 'ONNX_EXTERNAL_DATA',
        severity: 'block',
        offset: this.pos,
        message: `a tensor reads its data from "${loc}", outside the model folder`,
        fix: 'save the model with external data next to it (onnx.save_model(..., location="weights.bin"))',
      });
    }
  }

  end(): void {
    while (this.frames.length > 1) this.leave();
  }
}

function varint(b: Buffer, i: number): { v: bigint; next: number } | undefined {
  let v = 0n;
  let shift = 0n;
  for (let j = i; j < b.length && j < i + 10; j++) {
    v |= BigInt(b[j]! & 0x7f) << shift;
    if ((b[j]! & 0x80) === 0) return { v, next: j + 1 };
    shift += 7n;
  }
  return undefined;
}
