import { createHash, type Hash } from 'node:crypto';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { KilnError } from '../errors.ts';

// Digests are `algorithm:hex` (OCI image-spec `descriptor.md#digests`). kiln writes sha256 only
// and accepts sha256/sha512 when reading.

export type Digest = `sha256:${string}` | `sha512:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) {
    throw new KilnError('DIGEST_INVALID', `${what} "${s}" is not a valid digest`, {
      kind: 'usage',
      hint: 'expected sha256: followed by 64 lowercase hex characters',
    });
  }
  return s;
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a digest (`sha256:abc` -> `abc`). */
export const digestHex = (d: Digest): string => d.slice(d.indexOf(':') + 1);

/** What hashes a stream as it flows: digest and size are valid once the stream has ended. */
export interface StreamDigest {
  digest(): Digest;
  readonly size: number;
}

/**
 * A pass-through stream that hashes and counts what flows through it; `digest()` and `size`
 * are valid once the stream has ended. Used to hash while streaming, never by re-reading.
 */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #size = 0;
  #digest: Digest | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.#digest = `sha256:${this.#hash.digest('hex')}`;
    cb();
  }

  get size(): number {
    return this.#size;
  }

  digest(): Digest {
    if (!this.#digest) throw new Error('HashingStream.digest() read before the stream ended');
    return this.#digest;
  }
}

/**
 * `body` with what hashes it on the way: `hashedBy` when the caller names it, the body itself when
 * it is a HashingStream (the layer builder's last stage), else a HashingStream piped after it. At
 * ~1.3 GB/s a second sha256 of a blob costs most of a second of CPU per GiB.
 */
export function hashedOnTheWay(
  body: Readable,
  hashedBy?: StreamDigest,
): { stream: Readable; hash: StreamDigest } {
  const known = hashedBy ?? (body instanceof HashingStream ? body : undefined);
  if (known) return { stream: body, hash: known };
  const hash = new HashingStream();
  // pipeline (not .pipe) so an error in the body reaches whoever reads the hashed stream.
  return { stream: pipeline(body, hash, () => {}), hash };
}
