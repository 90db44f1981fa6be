// The table of contents of an uncompressed tar FILE, read by seeking from header to header
// (POSIX ustar; GNU base-256 sizes as kiln's writer emits them over 8 GiB, tar.ts): a 1 GiB
// archive is indexed by reading a few KiB. Pax and GNU long-name records are refused rather than
// half-understood: kiln's archives never need them (every name is under 100 bytes).
import type { FileHandle } from 'node:fs/promises';

const BLOCK = 512;

export interface TarEntry {
  name: string;
  /** Byte offset of the entry's content in the file. */
  offset: number;
  size: number;
}

export interface TarIndex {
  entries: Map<string, TarEntry>;
  /** True when the archive ends with the end-of-archive marker (two zero blocks) inside the file. */
  complete: boolean;
  /** Why the walk stopped early (a truncated or damaged archive), undefined when it did not. */
  problem: string | undefined;
}

function size(h: Buffer): number {
  if ((h[124]! & 0x80) !== 0) {
    let v = 0n;
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(h[i]!);
    return Number(v);
  }
  return Number.parseInt(h.toString('ascii', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return Number.parseInt(h.toString('ascii', 148, 156).replace(/\0.*$/, '').trim(), 8) === sum;
}

const cstr = (h: Buffer, start: number, end: number): string => {
  const s = h.subarray(start, end);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('utf8');
};

export async function scanTar(fh: FileHandle): Promise<TarIndex> {
  const total = (await fh.stat()).size;
  const entries = new Map<string, TarEntry>();
  const h = Buffer.alloc(BLOCK);
  let at = 0;
  let zeros = 0;
  while (at + BLOCK <= total) {
    await fh.read(h, 0, BLOCK, at);
    at += BLOCK;
    if (h.every((b) => b === 0)) {
      if (++zeros === 2) return { entries, complete: true, problem: undefined };
      continue;
    }
    zeros = 0;
    if (!checksumOk(h))
      return { entries, complete: false, problem: `damaged tar header at byte ${at - BLOCK}` };
    const type = String.fromCharCode(h[156]!);
    const n = size(h);
    if (type !== '0' && type !== '\0' && type !== '5') {
      return {
        entries,
        complete: false,
        problem: `unsupported tar entry type "${type}" at byte ${at - BLOCK}`,
      };
    }
    const prefix = cstr(h, 345, 500);
    const name = prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100);
    if (at + n > total) return { entries, complete: false, problem: `${name} is cut short` };
    if (type !== '5') entries.set(name, { name, offset: at, size: n });
    at += Math.ceil(n / BLOCK) * BLOCK;
  }
  return { entries, complete: false, problem: 'the archive ends without the end-of-archive marker' };
}
