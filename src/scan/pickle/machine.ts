import { fixImports } from '../packs.ts';
import type { Policy } from '../policy.ts';
import type { Finding, FindingSink, Role } from '../types.ts';
import { asciiLine, asciiOrUndefined, isTorchStorageId, longValue, utf8Line } from './args.ts';
import { joblibLayout } from './joblib.ts';
import { type ParsedNumber, parseFloatLine, parseIndexLine, parseIntLine, parseLongLine } from './numbers.ts';
import { FIXED, OPCODE_NAMES } from './opcodes.ts';
import { decodeStringLine, decodeUnicodeLine, decodeUtf8 } from './text.ts';
import { type GlobalRef, globalName, keepItems, NONE, type Value } from './values.ts';

// An incremental emulation of CPython's unpickler (Lib/pickle.py `_Unpickler`, Modules/_pickle.c),
// fed chunk by chunk: every opcode of protocols 0-5, memo, stack, metastack (MARK), FRAME,
// concatenated streams to the end of the input, bytes after STOP, truncated streams. It executes
// nothing: each global resolution and each invocation (REDUCE, NEWOBJ, INST, OBJ, BUILD) is checked
// against the policy for the role it plays, at the offset where it happens, so a payload placed
// before a deliberate failure (nullifAI) is still reported. Large payloads (BINBYTES8, BYTEARRAY8,
// long strings) are skipped by counting, never copied: an array-heavy pickle scans at memory speed.
// Written by hand: no JavaScript library emulates the pickle machine (and Python is not allowed at
// run time).

export interface MachineOptions {
  policy: Policy;
  sink: FindingSink;
  /** The bytes may not be a pickle at all: hold findings until they prove to be one. */
  probe?: boolean;
  /** Stop after one stream's STOP (a nested pickle inside a joblib file). */
  single?: boolean;
  /** This pickle is `data.pkl` of a PyTorch archive (persistent ids name storages). */
  torch?: boolean;
  /** The bytes come out of a zlib/gzip/zstd stream (a compressed joblib dump). */
  compressed?: boolean;
}

const LIMITS = {
  line: 64 * 1024,
  keepString: 4096,
  memo: 4_000_000,
  stack: 2_000_000,
  marks: 100_000,
  globals: 100_000,
};
/** Factories whose first argument is the class really instantiated (same rule as scripts/scan-packs.py). */
const CLASS_FACTORIES = new Set([
  'copyreg._reconstructor',
  'copyreg.__newobj__',
  'copyreg.__newobj_ex__',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
]);
const JOBLIB_WRAPPER = 'joblib.numpy_pickle.NumpyArrayWrapper';
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

type Mode = 'op' | 'skip' | 'collect' | 'line' | 'pad' | 'nested' | 'done' | 'dead';

class Fail extends Error {}

export class PickleMachine {
  private readonly o: MachineOptions;
  private mode: Mode = 'op';
  private abs = 0; // absolute offset of the next byte fed
  private carry: Buffer | undefined;
  // current stream
  private stack: Value[] = [];
  private metastack: Value[][] = [];
  private memo = new Map<number, Value>();
  private refs = new Map<string, GlobalRef>();
  private proto = 0;
  private opCount = 0;
  private frameEnd = -1;
  private streamStart = 0;
  private streams = 0;
  // payload states
  private skipLeft = 0;
  private afterSkip: (() => void) | undefined;
  private parts: Buffer[] = [];
  private partLen = 0;
  private need = 0;
  private onCollected: ((b: Buffer) => void) | undefined;
  private lines: string[] = [];
  private linesWanted = 0;
  private lineTooLong = false;
  private onLines: ((lines: string[]) => void) | undefined;
  private opOffset = 0;
  private opName = '';
  private child: PickleMachine | undefined;
  private afterChild: (() => void) | undefined;
  private onPad: ((n: number) => void) | undefined;
  // probe
  private evidence: boolean;
  private held: Omit<Finding, 'file' | 'member'>[] = [];
  private heldGlobals: [string, Role | 'import'][] = [];
  private stopped = false;
  /** True once a joblib array wrapper was read (the file is a joblib dump). */
  sawJoblib = false;
  /** True once the bytes proved to be a pickle (always true outside probe mode). */
  get isPickle(): boolean {
    return this.evidence;
  }
  get finished(): boolean {
    return this.mode === 'done';
  }
  get streamCount(): number {
    return this.streams;
  }

  constructor(o: MachineOptions) {
    this.o = o;
    this.evidence = !o.probe;
  }

  /** Feed bytes [start, end) of `buf`; returns how far it consumed (< end only when a single stream ended). */
  feed(buf: Buffer, start = 0, end = buf.length): number {
    let i = start;
    if (this.carry && i < end) {
      const carry = this.carry;
      const head = Buffer.concat([carry, buf.subarray(i, Math.min(end, i + 16))]);
      this.carry = undefined;
      const r = this.step(head, 0, head.length, this.abs - carry.length);
      if (r < 0) {
        this.carry = head;
        this.abs += Math.min(end, i + 16) - i;
        return Math.min(end, i + 16);
      }
      const consumed = r - carry.length;
      this.abs += consumed;
      i += consumed;
    }
    while (i < end) {
      switch (this.mode) {
        case 'op': {
          const r = this.step(buf, i, end, this.abs);
          if (r < 0) {
            this.carry = Buffer.from(buf.subarray(i, end));
            this.abs += end - i;
            return end;
          }
          this.abs += r - i;
          i = r;
          break;
        }
        case 'skip': {
          const n = Math.min(this.skipLeft, end - i);
          this.skipLeft -= n;
          this.abs += n;
          i += n;
          if (this.skipLeft === 0) this.finishPayload(() => this.afterSkip?.());
          break;
        }
        case 'collect': {
          const n = Math.min(this.need - this.partLen, end - i);
          this.parts.push(buf.subarray(i, i + n));
          this.partLen += n;
          this.abs += n;
          i += n;
          if (this.partLen === this.need) {
            const b = Buffer.concat(this.parts);
            this.parts = [];
            this.finishPayload(() => this.onCollected?.(b));
          }
          break;
        }
        case 'line': {
          const nl = buf.indexOf(10, i);
          const stop = nl < 0 || nl >= end ? end : nl;
          if (!this.lineTooLong) {
            if (this.partLen + (stop - i) > LIMITS.line) this.lineTooLong = true;
            else this.parts.push(Buffer.from(buf.subarray(i, stop)));
            this.partLen += stop - i;
          }
          this.abs += stop - i;
          i = stop;
          if (stop < end) {
            this.abs += 1;
            i += 1;
            this.lineDone();
          }
          break;
        }
        case 'pad': {
          const padLen = buf[i]!;
          this.abs += 1;
          i += 1;
          this.mode = 'op';
          const onPad = this.onPad;
          this.guard(() => onPad?.(padLen));
          break;
        }
        case 'nested': {
          const child = this.child!;
          const r = child.feed(buf, i, end);
          this.abs += r - i;
          i = r;
          if (child.finished) {
            this.child = undefined;
            this.mode = 'op';
            this.afterChild?.();
          }
          break;
        }
        case 'done':
          return i;
        case 'dead':
          this.abs += end - i;
          return end;
      }
    }
    return i;
  }

  /** End of input. */
  end(): void {
    if (this.mode === 'nested') {
      this.child?.end();
      this.mode = 'dead';
      return;
    }
    if (this.mode === 'done' || this.mode === 'dead') return;
    const complete =
      this.mode === 'op' && !this.carry && (this.stopped || (this.streams === 0 && this.opCount === 0));
    if (complete) return;
    this.report(
      this.streams > 0 && this.opCount <= 1 ? 'TRAILING_DATA' : 'PICKLE_TRUNCATED',
      this.abs,
      this.opName || 'EOF',
      'the stream ends before STOP: a loader runs every opcode before the end and then fails (the nullifAI technique)',
    );
    this.finishRefs();
    this.mode = 'dead';
  }

  // ---------------------------------------------------------------- findings

  private add(f: Omit<Finding, 'file' | 'member'>): void {
    if (this.evidence) this.o.sink.add(f);
    else if (this.held.length < 1000) this.held.push(f);
  }

  private report(rule: Finding['rule'], offset: number, opcode: string, message: string, fix?: string): void {
    this.add({
      rule,
      severity: 'block',
      offset,
      opcode,
      message,
      fix:
        fix ??
        'do not deploy this file: no pickle writer produces it; re-export the model with safetensors or skops',
    });
  }

  private prove(): void {
    if (this.evidence) return;
    this.evidence = true;
    for (const f of this.held) this.o.sink.add(f);
    for (const [g, r] of this.heldGlobals) this.o.sink.global(g, r);
    this.held = [];
    this.heldGlobals = [];
  }

  private fail(message: string, rule: Finding['rule'] = 'PICKLE_MALFORMED'): never {
    throw new Fail(message, { cause: rule });
  }

  private check(g: GlobalRef, role: Role | 'import', offset: number, opcode: string): void {
    const name = globalName(g);
    if (g.checked.has(role)) return;
    g.checked.add(role);
    if (this.evidence) this.o.sink.global(name, role);
    else this.heldGlobals.push([name, role]);
    const denied = this.o.policy.check(g.module, g.qualname, role);
    if (!denied) return;
    this.add({ ...denied, offset, opcode, global: name, role: role === 'import' ? 'argument' : role });
  }

  /** A value used as data (an argument, an item, state): a global there plays the `argument` role. */
  private data(v: Value | undefined): void {
    if (v?.t === 'global') this.check(v.g, 'argument', this.opOffset, this.opName);
  }

  // ---------------------------------------------------------------- stack

  private push(v: Value): void {
    if (this.stack.length >= LIMITS.stack) this.fail(`stack deeper than ${LIMITS.stack}`, 'LIMIT_EXCEEDED');
    this.stack.push(v);
  }

  private pop(): Value {
    const v = this.stack.pop();
    if (v === undefined) this.fail('unpickling stack underflow');
    return v;
  }

  private top(): Value {
    const v = this.stack.at(-1);
    if (v === undefined) this.fail('unpickling stack underflow');
    return v;
  }

  private popMark(): Value[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (prev === undefined) this.fail('could not find MARK');
    this.stack = prev;
    return items;
  }

  // ---------------------------------------------------------------- payloads

  private finishPayload(then: () => void): void {
    this.mode = 'op';
    this.guard(then);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      this.die(e);
    }
  }

  private die(e: Fail): void {
    const rule = (e.cause as Finding['rule']) ?? 'PICKLE_MALFORMED';
    const trailing = this.streams > 0 && this.opCount <= 1;
    if (trailing) {
      this.report(
        'TRAILING_DATA',
        this.streamStart,
        this.opName,
        `bytes after the end of the pickle (STOP) that are not another pickle: ${e.message}`,
      );
    } else {
      this.report(
        rule,
        this.opOffset,
        this.opName,
        `the stream fails to load here (${e.message}); everything before this point runs when the file is loaded`,
      );
    }
    this.finishRefs();
    this.mode = 'dead';
  }

  /** A payload of `n` bytes: small ones are collected, large ones skipped without copying. */
  private payload(
    b: Buffer,
    i: number,
    end: number,
    n: number,
    keep: boolean,
    then: (v: Buffer | undefined) => void,
  ): number {
    if (
      this.frameEnd >= 0 &&
      this.opOffset < this.frameEnd &&
      this.opOffset + (i - this.opStart) + n > this.frameEnd
    )
      this.frameCross();
    if (!keep) {
      const avail = Math.min(end - i, n);
      if (avail === n) {
        then(undefined);
        return i + n;
      }
      this.skipLeft = n - avail;
      this.afterSkip = () => then(undefined);
      this.mode = 'skip';
      return i + avail;
    }
    if (end - i >= n) {
      then(b.subarray(i, i + n));
      return i + n;
    }
    this.parts = [Buffer.from(b.subarray(i, end))];
    this.partLen = end - i;
    this.need = n;
    this.onCollected = then;
    this.mode = 'collect';
    return end;
  }

  private readLines(count: number, then: (lines: string[]) => void): void {
    this.lines = [];
    this.linesWanted = count;
    this.onLines = then;
    this.parts = [];
    this.partLen = 0;
    this.lineTooLong = false;
    this.mode = 'line';
  }

  private lineDone(): void {
    if (this.lineTooLong) {
      this.mode = 'op';
      this.die(new Fail(`a text argument longer than ${LIMITS.line} bytes`, { cause: 'LIMIT_EXCEEDED' }));
      return;
    }
    const b = Buffer.concat(this.parts);
    this.lines.push(b.toString('latin1'));
    this.parts = [];
    this.partLen = 0;
    if (this.lines.length < this.linesWanted) return;
    if (this.frameEnd >= 0 && this.opOffset < this.frameEnd && this.abs > this.frameEnd) this.frameCross();
    const lines = this.lines;
    this.finishPayload(() => this.onLines?.(lines));
  }

  private frameCross(): void {
    this.report(
      'PARSER_DIFFERENTIAL',
      this.opOffset,
      this.opName,
      'an opcode runs across the end of its FRAME: pickle.py (used by joblib) refuses it, the C unpickler (pickle.load, torch.load) accepts it',
    );
  }

  private number(p: ParsedNumber, kind: string): number | bigint | undefined {
    if (p.c === undefined && p.py === undefined) this.fail(`invalid ${kind} literal`);
    if (p.c !== p.py) {
      this.report(
        'PARSER_DIFFERENTIAL',
        this.opOffset,
        this.opName,
        `the ${kind} literal is read as ${String(p.c)} by the C unpickler and as ${String(p.py)} by pickle.py`,
      );
    } else if (!p.canonical) {
      this.report(
        'PARSER_DIFFERENTIAL',
        this.opOffset,
        this.opName,
        `a ${kind} literal in a form no pickler writes (other scanners' parsers reject it while the unpicklers accept it)`,
      );
    }
    return p.c ?? p.py;
  }

  // ---------------------------------------------------------------- the dispatch

  private opStart = 0;

  /** Decode one opcode at b[i]; returns the index after what it consumed, or -1 if its header is incomplete. */
  private step(b: Buffer, i: number, end: number, abs: number): number {
    const code = b[i]!;
    const need = FIXED[code] ?? 0;
    if (end - i - 1 < need) return -1;
    this.opOffset = abs;
    this.opStart = i;
    this.opName = OPCODE_NAMES[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
    if (this.stopped) this.newStream(abs);
    this.opCount++;
    if (this.frameEnd > abs && abs + 1 + need > this.frameEnd) this.frameCross();
    try {
      return this.dispatch(code, b, i + 1, end);
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      this.die(e);
      return i + 1 + need;
    }
  }

  private newStream(abs: number): void {
    // Another pickle after STOP: pickle.load reads one, but other loaders (legacy torch.load,
    // a second pickle.load) read on, so it is scanned with a fresh memo like a new Unpickler.
    this.stopped = false;
    this.stack = [];
    this.metastack = [];
    this.memo = new Map();
    this.refs = new Map();
    this.proto = 0;
    this.opCount = 0;
    this.frameEnd = -1;
    this.streamStart = abs;
  }

  private dispatch(code: number, b: Buffer, i: number, end: number): number {
    switch (code) {
      case 0x80: {
        const p = b[i]!;
        if (p > 5) this.fail(`unsupported pickle protocol: ${p}`);
        if (this.opCount > 1)
          this.report(
            'PICKLE_MALFORMED',
            this.opOffset,
            'PROTO',
            'PROTO in the middle of a stream (changes how later names resolve); no pickler writes it',
          );
        this.proto = p;
        return i + 1;
      }
      case 0x95: {
        const len = Number(b.readBigUInt64LE(i));
        if (this.frameEnd >= 0 && this.opOffset < this.frameEnd) {
          this.report(
            'PARSER_DIFFERENTIAL',
            this.opOffset,
            'FRAME',
            'a new FRAME starts before the current one ends: pickle.py refuses it, the C unpickler accepts it',
          );
        }
        this.frameEnd = this.opOffset + 9 + len;
        return i + 8;
      }
      case 0x2e: {
        const v = this.pop();
        this.data(v);
        if (this.metastack.length > 0 || this.stack.length > 0) {
          this.report(
            'PICKLE_MALFORMED',
            this.opOffset,
            'STOP',
            'STOP with values left on the stack or an open MARK',
          );
        }
        this.finishRefs();
        this.stack = [];
        this.metastack = [];
        this.stopped = true;
        this.streams++;
        this.prove();
        if (this.streams === 2) {
          this.add({
            rule: 'TRAILING_DATA',
            severity: 'warn',
            offset: this.streamStart,
            opcode: 'STOP',
            message:
              'the file holds more than one pickle stream; pickle.load reads only the first, other loaders read on (all were scanned)',
            fix: 'write one object per file',
          });
        }
        if (this.o.single) this.mode = 'done';
        return i;
      }
      case 0x28:
        if (this.metastack.length >= LIMITS.marks) this.fail('too many nested MARKs', 'LIMIT_EXCEEDED');
        this.metastack.push(this.stack);
        this.stack = [];
        return i;
      case 0x30:
        if (this.stack.length > 0) this.stack.pop();
        else this.popMark();
        return i;
      case 0x31:
        this.popMark();
        return i;
      case 0x32:
        this.push(this.top());
        return i;
      case 0x4e:
        this.push(NONE);
        return i;
      case 0x88:
      case 0x89:
        this.push({ t: 'num', n: code === 0x88 ? 1 : 0 });
        return i;
      case 0x4a:
        this.push({ t: 'num', n: b.readInt32LE(i) });
        return i + 4;
      case 0x4b:
        this.push({ t: 'num', n: b[i]! });
        return i + 1;
      case 0x4d:
        this.push({ t: 'num', n: b.readUInt16LE(i) });
        return i + 2;
      case 0x47:
        this.push({ t: 'num', n: b.readDoubleBE(i) });
        return i + 8;
      case 0x8a:
        return this.payload(b, i + 1, end, b[i]!, true, (p) => this.push({ t: 'num', n: longValue(p!) }));
      case 0x8b: {
        const n = b.readInt32LE(i);
        if (n < 0) this.fail('LONG pickle has negative byte count');
        return this.payload(b, i + 4, end, n, n <= 16, (p) =>
          this.push({ t: 'num', n: p ? longValue(p) : undefined }),
        );
      }
      case 0x49:
        this.readLines(1, ([l]) => this.push({ t: 'num', n: this.number(parseIntLine(l!), 'INT') }));
        return i;
      case 0x4c:
        this.readLines(1, ([l]) => this.push({ t: 'num', n: this.number(parseLongLine(l!), 'LONG') }));
        return i;
      case 0x46:
        this.readLines(1, ([l]) => this.push({ t: 'num', n: this.number(parseFloatLine(l!), 'FLOAT') }));
        return i;
      case 0x53:
        this.readLines(1, ([l]) => {
          const s = decodeStringLine(l!);
          if (s === null) this.fail('the STRING opcode argument must be quoted');
          this.push({ t: 'str', s });
        });
        return i;
      case 0x56:
        this.readLines(1, ([l]) => this.push({ t: 'str', s: decodeUnicodeLine(l!) }));
        return i;
      case 0x54: {
        const n = b.readInt32LE(i);
        if (n < 0) this.fail('BINSTRING pickle has negative byte count');
        return this.text(b, i + 4, end, n, 'latin1');
      }
      case 0x55:
        return this.text(b, i + 1, end, b[i]!, 'latin1');
      case 0x58:
        return this.text(b, i + 4, end, b.readUInt32LE(i), 'utf8');
      case 0x8c:
        return this.text(b, i + 1, end, b[i]!, 'utf8');
      case 0x8d:
        return this.text(b, i + 8, end, this.size64(b, i), 'utf8');
      case 0x42:
        return this.bytes(b, i + 4, end, b.readUInt32LE(i));
      case 0x43:
        return this.bytes(b, i + 1, end, b[i]!);
      case 0x8e:
      case 0x96:
        return this.bytes(b, i + 8, end, this.size64(b, i));
      case 0x97:
      case 0x98:
        this.report(
          'OUT_OF_BAND_BUFFER',
          this.opOffset,
          this.opName,
          'out-of-band buffers (protocol 5) are not part of the file: file loaders fail on them, custom loaders fill them from elsewhere',
        );
        if (code === 0x97) this.push({ t: 'bytes', size: 0 });
        else this.top();
        return i;
      case 0x29:
        this.push({ t: 'tuple', items: [] });
        return i;
      case 0x85:
      case 0x86:
      case 0x87: {
        const n = code - 0x84;
        const items: Value[] = [];
        for (let k = 0; k < n; k++) items.unshift(this.pop());
        for (const v of items) this.data(v);
        this.push({ t: 'tuple', items });
        return i;
      }
      case 0x74: {
        const items = this.popMark();
        for (const v of items) this.data(v);
        this.push({ t: 'tuple', items: keepItems(items) });
        return i;
      }
      case 0x5d:
        this.push({ t: 'list' });
        return i;
      case 0x6c:
        for (const v of this.popMark()) this.data(v);
        this.push({ t: 'list' });
        return i;
      case 0x7d:
        this.push({ t: 'dict', items: [] });
        return i;
      case 0x64: {
        const items = this.popMark();
        if (items.length % 2) this.fail('odd number of items for DICT');
        for (const v of items) this.data(v);
        const pairs: [Value, Value][] = [];
        for (let k = 0; k + 1 < items.length && pairs.length <= 32; k += 2)
          pairs.push([items[k]!, items[k + 1]!]);
        this.push({ t: 'dict', items: items.length <= 64 ? pairs : undefined });
        return i;
      }
      case 0x8f:
        this.push({ t: 'set' });
        return i;
      case 0x91:
        for (const v of this.popMark()) this.data(v);
        this.push({ t: 'set' });
        return i;
      case 0x61: {
        const v = this.pop();
        this.data(v);
        this.mutate(this.top());
        return i;
      }
      case 0x65: {
        const items = this.popMark();
        for (const v of items) this.data(v);
        this.mutate(this.top());
        return i;
      }
      case 0x90: {
        const items = this.popMark();
        for (const v of items) this.data(v);
        this.mutate(this.top());
        return i;
      }
      case 0x73: {
        const v = this.pop();
        const k = this.pop();
        this.data(k);
        this.data(v);
        this.setItems(this.top(), [[k, v]]);
        return i;
      }
      case 0x75: {
        const items = this.popMark();
        if (items.length % 2) this.fail('odd number of items for SETITEMS');
        for (const v of items) this.data(v);
        const pairs: [Value, Value][] = [];
        for (let k = 0; k + 1 < items.length; k += 2) pairs.push([items[k]!, items[k + 1]!]);
        this.setItems(this.top(), pairs);
        return i;
      }
      case 0x70:
        this.readLines(1, ([l]) => this.memoPut(Number(this.number(parseIndexLine(l!), 'PUT index'))));
        return i;
      case 0x71:
        this.memoPut(b[i]!);
        return i + 1;
      case 0x72:
        this.memoPut(b.readUInt32LE(i));
        return i + 4;
      case 0x94:
        this.memoPut(this.memo.size);
        return i;
      case 0x67:
        this.readLines(1, ([l]) => this.memoGet(Number(this.number(parseIndexLine(l!), 'GET index'))));
        return i;
      case 0x68:
        this.memoGet(b[i]!);
        return i + 1;
      case 0x6a:
        this.memoGet(b.readUInt32LE(i));
        return i + 4;
      case 0x63:
        this.readLines(2, ([m, n]) =>
          this.push({ t: 'global', g: this.resolve(utf8Line(m!), utf8Line(n!)) }),
        );
        return i;
      case 0x93: {
        const name = this.pop();
        const module = this.pop();
        if (module.t !== 'str' || name.t !== 'str') this.fail('STACK_GLOBAL requires str');
        if (module.s === undefined || name.s === undefined) {
          this.report(
            'COMPUTED_NAME',
            this.opOffset,
            'STACK_GLOBAL',
            'STACK_GLOBAL names a global kiln cannot read as a constant string',
            'do not deploy this file; re-export the model with safetensors or skops',
          );
          this.push({ t: 'obj', of: undefined, args: undefined, state: undefined });
          return i;
        }
        this.push({ t: 'global', g: this.resolve(module.s, name.s) });
        return i;
      }
      case 0x69:
        this.readLines(2, ([m, n]) => {
          const g = this.resolve(asciiLine(m!), asciiLine(n!));
          const args = this.popMark();
          for (const v of args) this.data(v);
          // INST and OBJ call `cls(*args)` (pickle.py `_instantiate`, _pickle.c `instantiate`): a
          // call like REDUCE, not NEWOBJ's `cls.__new__(cls)`, so they need the reduce role.
          this.invoke(g, 'reduce');
          this.push({ t: 'obj', of: g, args: keepItems(args), state: undefined });
        });
        return i;
      case 0x6f: {
        const items = this.popMark();
        const cls = items.shift();
        if (cls === undefined) this.fail('OBJ without a class');
        for (const v of items) this.data(v);
        this.push(this.instantiate(cls, items, 'reduce'));
        return i;
      }
      case 0x81: {
        const args = this.pop();
        const cls = this.pop();
        this.data(args);
        this.push(this.instantiate(cls, args.t === 'tuple' ? args.items : undefined, 'newobj'));
        return i;
      }
      case 0x92: {
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        this.data(args);
        this.data(kwargs);
        this.push(this.instantiate(cls, args.t === 'tuple' ? args.items : undefined, 'newobj'));
        return i;
      }
      case 0x52: {
        const args = this.pop();
        const fn = this.pop();
        this.data(args);
        this.push(this.instantiate(fn, args.t === 'tuple' ? args.items : undefined, 'reduce'));
        return i;
      }
      case 0x62:
        return this.build(i);
      case 0x82:
      case 0x83:
      case 0x84:
        this.report(
          'EXTENSION_REGISTRY',
          this.opOffset,
          this.opName,
          "EXT opcodes name globals through copyreg's extension registry, which only code run earlier can fill",
        );
        this.push({ t: 'obj', of: undefined, args: undefined, state: undefined });
        return i + (code === 0x82 ? 1 : code === 0x83 ? 2 : 4);
      case 0x50:
        this.readLines(1, () => {
          this.report(
            'PERSISTENT_ID',
            this.opOffset,
            'PERSID',
            'a text persistent id: no model format kiln knows uses it, and the loader decides what it runs',
          );
          this.push({ t: 'obj', of: undefined, args: undefined, state: undefined });
        });
        return i;
      case 0x51: {
        const pid = this.pop();
        this.data(pid);
        if (!isTorchStorageId(pid)) {
          this.report(
            'PERSISTENT_ID',
            this.opOffset,
            'BINPERSID',
            "a persistent id that is not a PyTorch storage reference ('storage', type, key, location, numel): the loader decides what it runs",
          );
        }
        this.push({ t: 'obj', of: undefined, args: undefined, state: undefined });
        return i;
      }
      default:
        this.fail(`invalid load key, '\\x${code.toString(16).padStart(2, '0')}'`);
    }
  }

  private size64(b: Buffer, i: number): number {
    const n = b.readBigUInt64LE(i);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('a length larger than any file');
    return Number(n);
  }

  private text(b: Buffer, i: number, end: number, n: number, enc: 'utf8' | 'latin1'): number {
    return this.payload(b, i, end, n, n <= LIMITS.keepString, (p) => {
      this.push({
        t: 'str',
        s: p === undefined ? undefined : enc === 'utf8' ? decodeUtf8(p) : asciiOrUndefined(p),
      });
    });
  }

  private bytes(b: Buffer, i: number, end: number, n: number): number {
    return this.payload(b, i, end, n, false, () => this.push({ t: 'bytes', size: n }));
  }

  private memoPut(k: number): void {
    if (k < 0 || !Number.isFinite(k)) this.fail('negative PUT argument');
    if (this.memo.size >= LIMITS.memo && !this.memo.has(k))
      this.fail(`more than ${LIMITS.memo} memo entries`, 'LIMIT_EXCEEDED');
    this.memo.set(k, this.top());
  }

  private memoGet(k: number): void {
    const v = this.memo.get(k);
    if (v === undefined) this.fail(`Memo value not found at index ${k}`);
    this.push(v);
  }

  /** find_class: protocol < 3 renames Python 2 names (fix_imports); dotted names are walked from protocol 4. */
  private resolve(module: string, qualname: string): GlobalRef {
    let [m, n] = [module, qualname];
    if (this.proto < 3) [m, n] = fixImports(m, n);
    if (!this.evidence && IDENT.test(m)) this.prove();
    const key = `${m}\n${n}`;
    let g = this.refs.get(key);
    if (!g) {
      if (this.refs.size >= LIMITS.globals)
        this.fail(`more than ${LIMITS.globals} distinct globals`, 'LIMIT_EXCEEDED');
      g = { module: m, qualname: n, offset: this.opOffset, opcode: this.opName, checked: new Set() };
      this.refs.set(key, g);
    }
    return g;
  }

  private invoke(g: GlobalRef, role: Role): void {
    this.prove();
    this.check(g, role, this.opOffset, this.opName);
  }

  private instantiate(fn: Value, args: Value[] | undefined, role: Role): Value {
    if (fn.t !== 'global') {
      this.prove();
      this.report(
        'COMPUTED_CALLABLE',
        this.opOffset,
        this.opName,
        `${this.opName} calls a value that is not a named global (the result of another call, a memo trick or an attribute chain)`,
      );
      return { t: 'obj', of: undefined, args, state: undefined };
    }
    this.invoke(fn.g, role);
    let of = fn.g;
    if (role === 'reduce' && CLASS_FACTORIES.has(globalName(fn.g))) {
      const cls = args?.[0];
      if (cls?.t === 'global') {
        this.check(cls.g, 'newobj', this.opOffset, this.opName);
        of = cls.g;
      } else {
        this.report(
          'COMPUTED_CALLABLE',
          this.opOffset,
          this.opName,
          `${globalName(fn.g)} instantiates a class that is not a named global`,
        );
      }
    }
    return { t: 'obj', of, args, state: undefined };
  }

  private mutate(target: Value): void {
    if (target.t === 'global') {
      this.report(
        'BUILD_ON_GLOBAL',
        this.opOffset,
        this.opName,
        `${this.opName} calls a method of ${globalName(target.g)} itself (a class or function), not of an instance`,
      );
    } else if (target.t === 'obj' && target.of) {
      this.check(target.of, 'build', this.opOffset, this.opName);
    }
  }

  private setItems(target: Value, pairs: [Value, Value][]): void {
    this.mutate(target);
    if (target.t === 'dict' && target.items) {
      if (target.items.length + pairs.length > 32) target.items = undefined;
      else target.items.push(...pairs);
    }
  }

  private build(i: number): number {
    const state = this.pop();
    const inst = this.top();
    this.data(state);
    if (inst.t === 'global') {
      this.prove();
      this.report(
        'BUILD_ON_GLOBAL',
        this.opOffset,
        'BUILD',
        `BUILD sets attributes on ${globalName(inst.g)} itself (a class, function or module), which changes code other objects run`,
      );
      return i;
    }
    if (inst.t !== 'obj') return i;
    if (inst.of) this.invoke(inst.of, 'build');
    inst.state = state;
    if (inst.of && globalName(inst.of) === JOBLIB_WRAPPER) return this.joblibArray(inst, i);
    return i;
  }

  /**
   * joblib's NumpyUnpickler reads the array right after the wrapper's BUILD, from the file itself
   * (joblib/numpy_pickle.py `NumpyArrayWrapper.read_array`): a padding-length byte and padding
   * when the state has `numpy_array_alignment_bytes`, then `prod(shape) * itemsize` raw bytes, or,
   * for object arrays, a nested pickle read by pickle.load.
   */
  private joblibArray(inst: Value & { t: 'obj' }, i: number): number {
    const layout = joblibLayout(inst.state);
    if (typeof layout === 'string') this.fail(layout);
    const { objects, size, aligned } = layout;
    if (this.frameEnd > this.opOffset + 1) {
      this.report(
        'PARSER_DIFFERENTIAL',
        this.opOffset,
        'BUILD',
        'a joblib array starts inside a FRAME: joblib reads it from after the frame while the bytes before are still unread',
      );
    }
    this.sawJoblib = true;
    if (objects) {
      this.mode = 'nested';
      this.child = new PickleMachine({ policy: this.o.policy, sink: this.o.sink, single: true });
      this.afterChild = () => {};
      return i;
    }
    const skipArray = (): void => {
      this.frameEnd = -1;
      if (size === 0) return;
      this.skipLeft = size;
      this.afterSkip = undefined;
      this.mode = 'skip';
    };
    if (!aligned) {
      // Without joblib's padding byte (1..16, never an opcode) the raw array bytes follow BUILD
      // directly: joblib.load skips them, pickle.load (e.g. a server loading model.pkl) runs them
      // as opcodes. Compressed dumps are safe: pickle.load fails on the compression header.
      if (!this.o.compressed && size > 0) {
        this.report(
          'PARSER_DIFFERENTIAL',
          this.opOffset,
          'BUILD',
          'a joblib array with no alignment padding in an uncompressed file: joblib.load reads its bytes as data, pickle.load runs them as opcodes',
        );
      }
      skipArray();
      return i;
    }
    this.mode = 'pad';
    this.onPad = (padLen: number) => {
      if (padLen > 16) this.fail('a joblib padding length larger than the alignment');
      if (padLen === 0) {
        skipArray();
        return;
      }
      this.skipLeft = padLen;
      this.afterSkip = skipArray;
      this.mode = 'skip';
    };
    return i;
  }

  /** Globals resolved in this stream but never used still import their module: check them. */
  private finishRefs(): void {
    for (const g of this.refs.values()) if (g.checked.size === 0) this.check(g, 'import', g.offset, g.opcode);
  }
}
