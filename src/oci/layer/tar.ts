import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { KilnError } from '../../errors.ts';
import type { Digest, StreamDigest } from '../digest.ts';

// A deterministic tar writer (POSIX pax / ustar, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html).
// Written by hand because a layer's diff_id must be byte-identical for identical input: every
// header field is fixed here (uid/gid 0, empty user/group names, one mtime, fixed modes, no
// atime/ctime pax records), which general-purpose tar libraries do not guarantee across versions.

export interface TarFile {
  /** Path inside the archive, relative, `/`-separated, already validated (see paths.ts). */
  path: string;
  size: number;
  open: () => Promise<Readable> | Readable;
  /** Permission bits for this file (default: TarOptions.fileMode), e.g. 0o755 for an executable. */
  mode?: number;
}

export interface TarOptions {
  /** Seconds since the epoch for every entry (SOURCE_DATE_EPOCH convention). */
  mtime: number;
  fileMode?: number;
  dirMode?: number;
}

export interface TarFileResult {
  path: string;
  size: number;
  sha256: string;
}

const BLOCK = 512;
const USTAR_MAX_SIZE = 0o77777777777; // 8 GiB - 1: larger sizes need a pax `size` record
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** The tar as a byte stream, and the sha256 of exactly those bytes (the layer's diff_id). */
export interface TarStream extends StreamDigest {
  stream: Readable;
}

/**
 * Stream a tar of `files` plus every parent directory (sorted by path). `onFile` receives each
 * file's sha256 as it completes; the returned stream is pulled with backpressure, so at most one
 * chunk of one file is in memory at a time. The whole tar is hashed here too (the diff_id), each
 * chunk right after its file digest while its bytes are still in the CPU's cache: node's sha256
 * ran at ~1.85 GB/s on cache-warm 64 KiB buffers and 1.15-1.4 GB/s on a 64 MiB one here. It also
 * spares the layer a stream stage; a 1 GiB bake used ~0.1 CPU-s less (within run-to-run noise).
 */
export function tarStream(
  files: readonly TarFile[],
  opts: TarOptions,
  onFile?: (r: TarFileResult) => void,
): TarStream {
  const fileMode = opts.fileMode ?? 0o644;
  const dirMode = opts.dirMode ?? 0o755;
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  type Entry = { kind: 'dir'; path: string } | { kind: 'file'; path: string; file: TarFile };
  const entries: Entry[] = [
    ...[...dirs].map((path): Entry => ({ kind: 'dir', path })),
    ...files.map((file): Entry => ({ kind: 'file', path: file.path, file })),
  ].sort((a, b) => compareBytes(a.path, b.path));

  const tarHash = createHash('sha256');
  let size = 0;
  let digest: Digest | undefined;
  const out = (b: Buffer): Buffer => {
    tarHash.update(b);
    size += b.length;
    return b;
  };

  async function* generate(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      if (e.kind === 'dir') {
        for (const b of header({ path: e.path, size: 0, mode: dirMode, type: '5', mtime: opts.mtime }))
          yield out(b);
        continue;
      }
      const { file } = e;
      const fields = { path: file.path, size: file.size, mode: file.mode ?? fileMode, type: '0' as const };
      for (const b of header({ ...fields, mtime: opts.mtime })) yield out(b);
      const hash = createHash('sha256');
      let written = 0;
      const body = await file.open();
      for await (const chunk of body as AsyncIterable<Buffer>) {
        written += chunk.length;
        if (written > file.size) break;
        hash.update(chunk);
        yield out(chunk);
      }
      if (written !== file.size) {
        body.destroy();
        throw new KilnError(
          'ARTIFACT_SIZE_MISMATCH',
          `model file "${file.path}" delivered ${written > file.size ? 'more than' : 'only'} ${written} of the ${file.size} bytes the listing announced`,
          { hint: 'the artifact changed or the download was cut short; run the bake again' },
        );
      }
      onFile?.({ path: file.path, size: file.size, sha256: hash.digest('hex') });
      const pad = padding(file.size);
      if (pad > 0) yield out(Buffer.alloc(pad));
    }
    // End of archive: two zero blocks.
    yield out(ZERO_BLOCK);
    yield out(ZERO_BLOCK);
    digest = `sha256:${tarHash.digest('hex')}`;
  }
  return {
    stream: Readable.from(generate(), { objectMode: false, highWaterMark: 1 << 20 }),
    digest() {
      if (!digest) throw new Error('tarStream digest read before the tar ended');
      return digest;
    },
    get size() {
      return size;
    },
  };
}

interface HeaderFields {
  path: string;
  size: number;
  mode: number;
  type: '0' | '5' | 'x';
  mtime: number;
}

function* header(h: HeaderFields): Generator<Buffer> {
  const pax: string[] = [];
  const split = splitUstarName(h.path);
  if (!split) pax.push(paxRecord('path', h.path));
  if (h.size > USTAR_MAX_SIZE) pax.push(paxRecord('size', String(h.size)));
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''), 'utf8');
    // A fixed, deterministic name for the pax header entry (GNU tar uses one with its pid in it).
    const name = `PaxHeaders/${h.path.replace(/\/$/, '').split('/').pop() ?? 'entry'}`.slice(0, 100);
    yield ustarHeader({ name, prefix: '', size: body.length, mode: 0o644, type: 'x', mtime: h.mtime });
    yield body;
    const pad = padding(body.length);
    if (pad > 0) yield Buffer.alloc(pad);
  }
  const names = split ?? { name: h.path.slice(-100), prefix: '' };
  yield ustarHeader({
    ...names,
    size: h.size > USTAR_MAX_SIZE ? 0 : h.size,
    mode: h.mode,
    type: h.type,
    mtime: h.mtime,
  });
}

export function ustarHeader(h: {
  name: string;
  prefix: string;
  size: number;
  mode: number;
  type: string;
  mtime: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0); // uid
  octal(b, 116, 8, 0); // gid
  if (h.size > USTAR_MAX_SIZE) base256(b, 124, 12, h.size);
  else octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  b.write(h.type, 156, 1, 'ascii');
  b.write('ustar\u0000', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  // uname/gname empty, devmajor/devminor zero: nothing host-specific leaks into the layer.
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  b.write(h.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return b;
}

/** GNU base-256 numeric field (high bit set, big-endian), read by GNU tar and Go's archive/tar. */
function base256(b: Buffer, offset: number, width: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[offset] = 0x80;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}

/** ustar stores up to 255 bytes as prefix (155) + '/' + name (100); anything else goes in a pax record. */
function splitUstarName(path: string): { name: string; prefix: string } | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 100) return { name: path, prefix: '' };
  if (bytes > 256) return undefined;
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0)
      return { name, prefix };
  }
  return undefined;
}

/** A pax record is "<len> <key>=<value>\n" where <len> counts its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest);
  let digits = String(restLen).length;
  while (String(restLen + digits).length !== digits) digits++;
  const len = restLen + digits;
  return `${len}${rest}`;
}

export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
