import type { Readable } from 'node:stream';

// A streaming tar reader for scanning an image's model layer (POSIX ustar + pax `path`/`size`
// records and GNU long names, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html).
// Each regular file's bytes are pushed to the sink `onFile` returns, as they stream, never
// buffered whole. Written by hand: it is the reading half of tar.ts's deterministic writer.

export interface EntrySink {
  write(b: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
}

export async function readTar(
  body: Readable,
  onFile: (path: string, size: number) => EntrySink | undefined,
): Promise<void> {
  let head: Buffer[] = [];
  let headLen = 0;
  let left = 0; // bytes of the current entry's body
  let pad = 0;
  let sink: EntrySink | undefined;
  let collect: Buffer[] | undefined; // pax/longname bodies (small)
  let pending: { path?: string; size?: number } = {};
  let nextIsLongName = false;
  for await (const c of body as AsyncIterable<Buffer>) {
    let i = 0;
    while (i < c.length) {
      if (left > 0) {
        const n = Math.min(left, c.length - i);
        const piece = c.subarray(i, i + n);
        if (sink) await sink.write(piece);
        else if (collect) collect.push(Buffer.from(piece));
        left -= n;
        i += n;
        if (left === 0) {
          if (sink) await sink.end();
          if (collect) {
            const text = Buffer.concat(collect);
            if (nextIsLongName) pending.path = text.toString('utf8').replace(/\0+$/, '');
            else pending = { ...pending, ...paxRecords(text) };
            collect = undefined;
          }
          sink = undefined;
        }
        continue;
      }
      if (pad > 0) {
        const n = Math.min(pad, c.length - i);
        pad -= n;
        i += n;
        continue;
      }
      const n = Math.min(512 - headLen, c.length - i);
      head.push(c.subarray(i, i + n));
      headLen += n;
      i += n;
      if (headLen < 512) continue;
      const h = Buffer.concat(head);
      head = [];
      headLen = 0;
      if (h.every((b) => b === 0)) continue;
      const type = String.fromCharCode(h[156]!);
      const name = cstr(h, 0, 100);
      const prefix = cstr(h, 345, 155);
      const size = pending.size ?? octal(h, 124, 12);
      const path = pending.path ?? (prefix ? `${prefix}/${name}` : name);
      left = size;
      pad = (512 - (size % 512)) % 512;
      nextIsLongName = type === 'L';
      if (type === 'x' || type === 'L') {
        collect = [];
        if (type === 'x') pending = {};
        continue;
      }
      if (type === 'g') {
        collect = undefined;
        pending = {};
        continue;
      }
      pending = {};
      sink = type === '0' || type === '\0' ? onFile(path, size) : undefined;
      if (sink && size === 0) await sink.end();
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString('utf8');
}

function octal(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  return Number.parseInt(cstr(b, off, len).trim() || '0', 8);
}

function paxRecords(text: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  for (const rec of text.toString('utf8').split('\n')) {
    const m = /^\d+ ([^=]+)=(.*)$/.exec(rec);
    if (m?.[1] === 'path') out.path = m[2]!;
    if (m?.[1] === 'size') out.size = Number(m[2]);
  }
  return out;
}
