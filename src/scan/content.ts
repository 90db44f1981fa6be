import { Inflater } from './inflate.ts';
import { NpyScan } from './npy.ts';
import { OnnxScan } from './onnx.ts';
import { PickleMachine } from './pickle/machine.ts';
import type { Policy } from './policy.ts';
import { SafetensorsScan } from './safetensors.ts';
import { looksText, SNIFF_BYTES, sniff } from './sniff.ts';
import type { FileKind, FindingSink } from './types.ts';
import { ZipScan } from './zip.ts';

// One stream of bytes whose type is not known yet: buffer the first bytes, sniff, then hand
// everything to the scanner for that type. Used for whole files, zip members and decompressed
// streams alike (nesting is bounded).

export interface Sink {
  write(b: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

export interface ScanContext {
  policy: Policy;
  /** A sink for findings at this member chain. */
  sinkFor(member: string[]): FindingSink;
}

export const MAX_DEPTH = 3;

export class ContentScan implements Sink {
  kind: FileKind = 'empty';
  private head: Buffer[] = [];
  private headLen = 0;
  private inner: Sink | undefined;
  private machine: PickleMachine | undefined;
  private textual = false;
  private readonly sink: FindingSink;

  private readonly ctx: ScanContext;
  private readonly member: string[];
  private readonly depth: number;
  private readonly hint: { torch?: boolean; kerasWeights?: boolean; compressed?: boolean };

  constructor(
    ctx: ScanContext,
    member: string[],
    depth: number,
    hint: { torch?: boolean; kerasWeights?: boolean; compressed?: boolean } = {},
  ) {
    this.ctx = ctx;
    this.member = member;
    this.depth = depth;
    this.hint = hint;
    this.sink = ctx.sinkFor(member);
  }

  async write(b: Buffer): Promise<void> {
    if (this.inner) return this.inner.write(b);
    this.head.push(b);
    this.headLen += b.length;
    if (this.headLen >= SNIFF_BYTES) await this.start();
  }

  async end(): Promise<void> {
    if (!this.inner) await this.start();
    await this.inner!.end();
    if (this.machine && !this.machine.isPickle) this.kind = this.textual ? 'text' : this.nonPickleKind();
  }

  private nonPickleKind(): FileKind {
    this.sink.add({
      rule: 'UNSCANNED',
      severity: 'warn',
      offset: 0,
      message: 'a binary file of no format kiln knows (it does not parse as a pickle)',
      fix: 'nothing to do if it is data your model reads; kiln cannot vouch for it',
    });
    return 'binary';
  }

  private async start(): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.inner = this.open(head);
    if (head.length > 0) await this.inner.write(head);
  }

  private open(head: Buffer): Sink {
    const s = sniff(head);
    const sink = this.sink;
    const nest = (kind: string): boolean => {
      if (this.depth < MAX_DEPTH) return true;
      sink.add({
        rule: 'NESTING_TOO_DEEP',
        severity: 'block',
        offset: 0,
        message: `a ${kind} nested ${this.depth} levels deep`,
        fix: 'store the model files directly, not in nested containers',
      });
      return false;
    };
    const machine = (probe: boolean, kind: FileKind): Sink => {
      const m = new PickleMachine({
        policy: this.ctx.policy,
        sink,
        probe,
        torch: this.hint.torch === true,
        compressed: this.hint.compressed === true,
      });
      this.machine = m;
      this.kind = kind;
      return {
        write: (b) => {
          m.feed(b);
        },
        end: () => {
          m.end();
          if (m.isPickle && kind === 'pickle' && m.sawJoblib) this.kind = 'joblib';
        },
      };
    };
    if (typeof s === 'object' && this.hint.kerasWeights && s.opaque.startsWith('HDF5')) {
      // The weights of a .keras archive: h5py reads arrays from it, the model is config.json.
      this.kind = 'binary';
      return DISCARD;
    }
    if (typeof s === 'object') {
      this.kind = 'opaque';
      sink.add({
        rule: 'OPAQUE_CONTAINER',
        severity: 'block',
        offset: 0,
        message: `a ${s.opaque}: kiln cannot see what it holds, and a loader may unpack and unpickle it (nullifAI hid pickles in 7z)`,
        fix: 'store the model uncompressed or as zip/zlib/gzip, or re-export with safetensors/skops, or approve this file by sha256 in build.scan.approve',
      });
      return DISCARD;
    }
    switch (s) {
      case 'pickle':
        return machine(false, 'pickle');
      case 'maybe-pickle':
        this.textual = looksText(head);
        return machine(true, 'pickle');
      case 'zip':
        if (!nest('zip')) return DISCARD;
        this.kind = 'zip';
        return new ZipScan(this.ctx, this.member, this.depth, (k) => {
          this.kind = k;
        });
      case 'npy':
        this.kind = 'npy';
        return new NpyScan(this.ctx, sink);
      case 'safetensors':
        this.kind = 'safetensors';
        return new SafetensorsScan(sink);
      case 'onnx':
        this.kind = 'onnx';
        return new OnnxScan(sink);
      case 'zlib':
      case 'gzip':
      case 'zstd': {
        if (!nest('compressed stream')) return DISCARD;
        this.kind = 'compressed';
        const inner = new ContentScan(this.ctx, this.member, this.depth + 1, { compressed: true });
        return new Inflater(s, inner, sink, () => {
          if (inner.kind === 'pickle' || inner.kind === 'joblib') this.kind = 'joblib';
        });
      }
      case 'text':
        // Text is only a pickle if it runs as one (protocol 0 is text): probe it.
        this.kind = 'text';
        return DISCARD;
      case 'binary':
        this.kind = 'binary';
        this.nonPickleKind();
        return DISCARD;
      case 'empty':
        this.kind = 'empty';
        return DISCARD;
    }
  }
}

const DISCARD: Sink = { write() {}, end() {} };
