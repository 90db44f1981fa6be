import zlib from 'node:zlib';
import { ContentScan, type ScanContext, type Sink } from './content.ts';
import { Inflater } from './inflate.ts';
import { checkKerasConfig } from './keras.ts';
import { checkSkopsSchema } from './skops.ts';
import type { FileKind, FindingSink } from './types.ts';

// A streaming ZIP reader that reads what every loader could read and blocks when they could
// disagree (APPNOTE.TXT 6.3.10, https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT).
// torch.load (miniz) and numpy/zipfile read the central directory; a streaming reader reads the
// local headers. kiln reads the local headers in order as the bytes arrive, scans each member's
// content, then reads the central directory and requires it to describe exactly the same members
// (names, offsets, sizes, flags, method, CRC). Every mismatch blocks (CVE-2025-1944/1945/10156),
// as do duplicate or case-colliding names (a case-insensitive reader may pick another member),
// encryption, and bytes before, between or after the records. Written by hand because the zip
// libraries on npm read either the central directory (needs random access) or the local headers,
// never both in one streaming pass.

const SIG = {
  local: 0x04034b50,
  central: 0x02014b50,
  eocd: 0x06054b50,
  eocd64: 0x06064b50,
  locator64: 0x07064b50,
  dd: 0x08074b50,
};

interface Entry {
  name: string;
  offset: number;
  flags: number;
  method: number;
  crc: number;
  csize: number;
  usize: number;
}

type State =
  | { s: 'sig' }
  | { s: 'header'; kind: 'local' | 'central' | 'eocd' | 'eocd64' | 'locator64'; need: number }
  | { s: 'data'; left: number }
  | { s: 'dd' }
  | { s: 'dead' };

export class ZipScan implements Sink {
  private st: State = { s: 'sig' };
  private pos = 0;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private readonly locals: Entry[] = [];
  private readonly central: Entry[] = [];
  private cdStart = -1;
  private eocdSeen = false;
  private current:
    | { entry: Entry; sink: Sink; crc: number; crcSink: boolean; content?: ContentScan; text?: Buffer[] }
    | undefined;
  private torchPrefix: string | undefined;
  private readonly sink: FindingSink;

  private readonly ctx: ScanContext;
  private readonly member: string[];
  private readonly depth: number;
  private readonly setKind: (k: FileKind) => void;

  constructor(ctx: ScanContext, member: string[], depth: number, setKind: (k: FileKind) => void) {
    this.ctx = ctx;
    this.member = member;
    this.depth = depth;
    this.setKind = setKind;
    this.sink = ctx.sinkFor(member);
  }

  private block(
    rule: 'ZIP_MISMATCH' | 'ZIP_DUPLICATE_NAME' | 'ZIP_UNSUPPORTED' | 'ZIP_CRC',
    message: string,
    offset = this.pos,
  ): void {
    this.sink.add({
      rule,
      severity: 'block',
      offset,
      message,
      fix: 'rebuild the archive with the library that wrote it (torch.save, numpy.savez, skops.io.dump); a zip that readers can disagree about is never deployed',
    });
  }

  async write(b: Buffer): Promise<void> {
    let i = 0;
    while (i < b.length) {
      const st = this.st;
      if (st.s === 'dead') return;
      if (st.s === 'data') {
        const n = Math.min(st.left, b.length - i);
        const piece = b.subarray(i, i + n);
        const cur = this.current!;
        if (cur.entry.method === 0 && cur.content) cur.crc = zlib.crc32(piece, cur.crc);
        await cur.sink.write(piece);
        st.left -= n;
        this.pos += n;
        i += n;
        if (st.left === 0) await this.endMember();
        continue;
      }
      // Header bytes: accumulate what the state needs.
      const need = st.s === 'sig' ? 4 : st.s === 'dd' ? this.ddSize() : st.need;
      const take = Math.min(need - this.bufLen, b.length - i);
      this.buf.push(b.subarray(i, i + take));
      this.bufLen += take;
      i += take;
      if (this.bufLen < need) continue;
      const h = Buffer.concat(this.buf, this.bufLen);
      this.buf = [];
      this.bufLen = 0;
      await this.header(h);
    }
  }

  private ddSize(): number {
    const e = this.current?.entry;
    return e && (e.csize === 0xffffffff || e.usize === 0xffffffff) ? 24 : 16;
  }

  private async header(h: Buffer): Promise<void> {
    const st = this.st;
    if (st.s === 'sig') {
      const sig = h.readUInt32LE(0);
      const fixed: Record<number, [State & { s: 'header' }, number]> = {
        [SIG.local]: [{ s: 'header', kind: 'local', need: 30 }, 30],
        [SIG.central]: [{ s: 'header', kind: 'central', need: 46 }, 46],
        [SIG.eocd]: [{ s: 'header', kind: 'eocd', need: 22 }, 22],
        [SIG.eocd64]: [{ s: 'header', kind: 'eocd64', need: 56 }, 56],
        [SIG.locator64]: [{ s: 'header', kind: 'locator64', need: 20 }, 20],
      };
      const next = fixed[sig];
      if (!next || this.eocdSeen) {
        this.block(
          'ZIP_MISMATCH',
          this.eocdSeen
            ? 'bytes after the end of the archive (a loader that scans for the last end record may read another archive)'
            : `bytes that are no zip record at offset ${this.pos}`,
        );
        this.st = { s: 'dead' };
        return;
      }
      this.buf = [h];
      this.bufLen = 4;
      this.st = next[0];
      return;
    }
    if (st.s === 'dd') {
      this.pos += h.length;
      this.st = { s: 'sig' };
      return;
    }
    if (st.s !== 'header') return;
    // Variable-length tails: read the lengths, then wait for the whole record.
    const varLen = (nameAt: number, counts: number[]): number =>
      counts.reduce((a, off) => a + h.readUInt16LE(off), nameAt);
    if (st.kind === 'local') {
      const total = varLen(30, [26, 28]);
      if (h.length < total) return this.more(total, h);
      this.pos += h.length;
      return this.startMember(h);
    }
    if (st.kind === 'central') {
      const total = varLen(46, [28, 30, 32]);
      if (h.length < total) return this.more(total, h);
      if (this.cdStart < 0) this.cdStart = this.pos;
      this.central.push(centralEntry(h));
      this.pos += h.length;
      this.st = { s: 'sig' };
      return;
    }
    if (st.kind === 'eocd') {
      const total = 22 + h.readUInt16LE(20);
      if (h.length < total) return this.more(total, h);
      const count = h.readUInt16LE(10);
      const cdOffset = h.readUInt32LE(16);
      if (count !== 0xffff && count !== this.central.length)
        this.block(
          'ZIP_MISMATCH',
          `the end record counts ${count} entries, the central directory holds ${this.central.length}`,
        );
      if (cdOffset !== 0xffffffff && this.cdStart >= 0 && cdOffset !== this.cdStart)
        this.block(
          'ZIP_MISMATCH',
          `the end record puts the central directory at ${cdOffset}, it is at ${this.cdStart} (data before the archive?)`,
        );
      this.pos += h.length;
      this.eocdSeen = true;
      this.st = { s: 'sig' };
      return;
    }
    if (st.kind === 'eocd64') {
      const total = 12 + Number(h.readBigUInt64LE(4));
      if (h.length < total) return this.more(total, h);
    }
    this.pos += h.length;
    this.st = { s: 'sig' };
  }

  private more(total: number, h: Buffer): void {
    if (total > 1 << 20) {
      this.block('ZIP_UNSUPPORTED', 'a zip record larger than 1 MiB');
      this.st = { s: 'dead' };
      return;
    }
    this.buf = [h];
    this.bufLen = h.length;
    this.st = { s: 'header', kind: (this.st as { kind: 'local' }).kind, need: total };
  }

  private async startMember(h: Buffer): Promise<void> {
    const flags = h.readUInt16LE(6);
    const method = h.readUInt16LE(8);
    const nameLen = h.readUInt16LE(26);
    const e: Entry = {
      name: decodeName(h.subarray(30, 30 + nameLen), flags),
      offset: this.pos - h.length,
      flags,
      method,
      crc: h.readUInt32LE(14),
      csize: h.readUInt32LE(18),
      usize: h.readUInt32LE(22),
    };
    zip64Sizes(h.subarray(30 + nameLen), e);
    this.locals.push(e);
    if (this.central.length > 0)
      this.block('ZIP_MISMATCH', `a local entry "${e.name}" after the central directory`);
    if (flags & 0x60) {
      this.block(
        'ZIP_UNSUPPORTED',
        `member "${e.name}" sets flag bits 0x${(flags & 0x60).toString(16)} (patched data / strong encryption): loaders disagree on them (CVE-2025-1945)`,
      );
    }
    if (flags & 0x1) {
      this.block(
        'ZIP_UNSUPPORTED',
        `member "${e.name}" is encrypted (flag bit 0): kiln cannot see it, a relaxed reader may ignore the bit (CVE-2025-1945)`,
      );
    }
    if (method !== 0 && method !== 8)
      this.block(
        'ZIP_UNSUPPORTED',
        `member "${e.name}" uses compression method ${method}; loaders handle only stored (0) and deflate (8)`,
      );
    if (flags & 0x8 && e.csize === 0) {
      this.block(
        'ZIP_UNSUPPORTED',
        `member "${e.name}" has no sizes in its local header (streamed zip with data descriptors): kiln reads archives in one pass and cannot place its end`,
      );
      this.st = { s: 'dead' };
      return;
    }
    const memberPath = [...this.member, e.name];
    const dataPkl = /^(?:[^/]+\/)?data\.pkl$/.exec(e.name);
    if (dataPkl && this.torchPrefix === undefined) this.torchPrefix = e.name.slice(0, -'data.pkl'.length);
    const raw =
      this.torchPrefix !== undefined &&
      (e.name.startsWith(`${this.torchPrefix}data/`) ||
        /\/(version|byteorder|\.format_version|\.storage_alignment|serialization_id)$/.test(e.name));
    // skops' schema.json and Keras' config.json are interpreted too (small JSON, kept up to 16 MiB).
    const text: Buffer[] | undefined = e.name === 'schema.json' || e.name === 'config.json' ? [] : undefined;
    let textLen = 0;
    let content: ContentScan | undefined;
    let sink: Sink;
    if (raw || flags & 0x1 || (method !== 0 && method !== 8)) {
      sink = { write() {}, end() {} };
    } else {
      content = new ContentScan(this.ctx, memberPath, this.depth + 1, {
        torch: dataPkl !== null,
        kerasWeights: this.locals.some((l) => l.name === 'config.json') && e.name.endsWith('.weights.h5'),
      });
      const scan = content;
      const crcOf = { crc: 0 };
      // Sees the member's uncompressed bytes: CRC (deflated members) and the JSON kept above.
      const plain: Sink = {
        write: (b) => {
          if (method === 8) crcOf.crc = zlib.crc32(b, crcOf.crc);
          if (text && textLen + b.length <= 16 << 20) {
            text.push(Buffer.from(b));
            textLen += b.length;
          }
          return scan.write(b);
        },
        end: () => scan.end(),
      };
      sink = method === 8 ? new Inflater('deflate-raw', plain, this.ctx.sinkFor(memberPath)) : plain;
      if (method === 8) this.inflatedCrc = crcOf;
    }
    this.current = {
      entry: e,
      sink,
      crc: 0,
      crcSink: method === 8,
      ...(content ? { content } : {}),
      ...(text ? { text } : {}),
    };
    if (e.csize === 0) return this.endMember();
    this.st = { s: 'data', left: e.csize };
  }

  private inflatedCrc: { crc: number } | undefined;

  private async endMember(): Promise<void> {
    const cur = this.current!;
    await cur.sink.end();
    const crc = cur.entry.method === 8 ? this.inflatedCrc?.crc : cur.crc;
    this.inflatedCrc = undefined;
    if (
      crc !== undefined &&
      cur.content &&
      (cur.entry.flags & 0x8) === 0 &&
      crc >>> 0 !== cur.entry.crc >>> 0
    ) {
      this.block(
        'ZIP_CRC',
        `member "${cur.entry.name}" fails its CRC-32: readers that check it refuse the file, readers that do not (torch, relaxed scanners) load it (CVE-2025-10156)`,
        cur.entry.offset,
      );
    }
    if (cur.text && cur.text.length > 0 && cur.entry.name === 'config.json')
      checkKerasConfig(
        Buffer.concat(cur.text),
        this.ctx.policy,
        this.ctx.sinkFor([...this.member, cur.entry.name]),
      );
    else if (cur.text && cur.text.length > 0)
      checkSkopsSchema(
        Buffer.concat(cur.text),
        this.ctx.policy,
        this.ctx.sinkFor([...this.member, cur.entry.name]),
      );
    this.current = undefined;
    this.st = cur.entry.flags & 0x8 ? { s: 'dd' } : { s: 'sig' };
  }

  async end(): Promise<void> {
    if (this.current) await this.current.sink.end();
    if (this.st.s === 'dead') return;
    if (!this.eocdSeen)
      this.block('ZIP_MISMATCH', 'the archive has no end-of-central-directory record (truncated)');
    this.compare();
    if (this.torchPrefix !== undefined) this.setKind('pytorch');
    else if (this.locals.length > 0 && this.locals.every((e) => e.name.endsWith('.npy'))) this.setKind('npz');
  }

  private compare(): void {
    const byOffset = new Map(this.central.map((c) => [c.offset, c]));
    if (this.central.length !== this.locals.length) {
      this.block(
        'ZIP_MISMATCH',
        `the central directory lists ${this.central.length} members, the archive holds ${this.locals.length} (hidden or phantom members)`,
      );
    }
    for (const l of this.locals) {
      const c = byOffset.get(l.offset);
      if (!c) {
        this.block(
          'ZIP_MISMATCH',
          `member "${l.name}" at offset ${l.offset} is not in the central directory (readers of the directory never see what was scanned)`,
          l.offset,
        );
        continue;
      }
      const dd = (l.flags & 0x8) !== 0;
      const diffs: string[] = [];
      if (c.name !== l.name) diffs.push(`name "${l.name}" vs "${c.name}"`);
      if (c.method !== l.method) diffs.push(`method ${l.method} vs ${c.method}`);
      if ((c.flags & 0x0f) !== (l.flags & 0x0f))
        diffs.push(`flags 0x${l.flags.toString(16)} vs 0x${c.flags.toString(16)}`);
      if (!dd && (c.csize !== l.csize || c.usize !== l.usize || c.crc >>> 0 !== l.crc >>> 0))
        diffs.push('sizes or CRC');
      if (diffs.length > 0)
        this.block(
          'ZIP_MISMATCH',
          `local header and central directory disagree for member at ${l.offset}: ${diffs.join(', ')}`,
          l.offset,
        );
    }
    const seen = new Map<string, string>();
    for (const c of this.central) {
      const key = c.name.toLowerCase();
      const prev = seen.get(key);
      if (prev !== undefined) {
        this.block(
          'ZIP_DUPLICATE_NAME',
          prev === c.name
            ? `member name "${c.name}" appears twice: readers pick different copies`
            : `member names "${prev}" and "${c.name}" differ only in case: a case-insensitive reader may load the other one`,
          c.offset,
        );
      }
      seen.set(key, c.name);
    }
  }
}

function centralEntry(h: Buffer): Entry {
  const flags = h.readUInt16LE(8);
  const nameLen = h.readUInt16LE(28);
  const extraLen = h.readUInt16LE(30);
  const e: Entry = {
    name: decodeName(h.subarray(46, 46 + nameLen), flags),
    flags,
    method: h.readUInt16LE(10),
    crc: h.readUInt32LE(16),
    csize: h.readUInt32LE(20),
    usize: h.readUInt32LE(24),
    offset: h.readUInt32LE(42),
  };
  zip64Sizes(h.subarray(46 + nameLen, 46 + nameLen + extraLen), e);
  return e;
}

/** ZIP64 extended information extra field (0x0001): 8-byte values for the fields set to 0xFFFFFFFF, in order. */
function zip64Sizes(extra: Buffer, e: Entry): void {
  let i = 0;
  while (i + 4 <= extra.length) {
    const id = extra.readUInt16LE(i);
    const len = extra.readUInt16LE(i + 2);
    if (id === 1) {
      let p = i + 4;
      const next = (): number | undefined => {
        if (p + 8 > i + 4 + len) return undefined;
        const v = Number(extra.readBigUInt64LE(p));
        p += 8;
        return v;
      };
      if (e.usize === 0xffffffff) e.usize = next() ?? e.usize;
      if (e.csize === 0xffffffff) e.csize = next() ?? e.csize;
      if (e.offset === 0xffffffff) e.offset = next() ?? e.offset;
    }
    i += 4 + len;
  }
}

/** Bit 11 = UTF-8; otherwise CP437 (kept as latin1: names are compared, not displayed). */
function decodeName(b: Buffer, flags: number): string {
  return flags & 0x800 ? b.toString('utf8') : b.toString('latin1');
}
