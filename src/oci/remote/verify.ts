// Content from a registry is trusted only after its digest checks out: a blob stream fails at its
// end when the bytes do not hash to the digest asked for (the caller must not use what it read),
// and small bodies (manifests, configs) are checked before they are returned.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { KilnError } from '../../errors.ts';
import type { Digest } from '../digest.ts';

const algorithmOf = (d: Digest): 'sha256' | 'sha512' => (d.startsWith('sha512:') ? 'sha512' : 'sha256');

/** The digest of `bytes` under the same algorithm as `like` (sha256 unless it is a sha512 digest). */
export function digestLike(bytes: Uint8Array, like?: Digest): Digest {
  const alg = like ? algorithmOf(like) : 'sha256';
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}` as Digest;
}

export function digestMismatch(
  what: string,
  expected: string,
  actual: string,
  extra: Record<string, unknown> = {},
) {
  return new KilnError('DIGEST_MISMATCH', `${what}: expected ${expected} but the content is ${actual}`, {
    hint: 'the content changed on the way or in storage; retry, and if it persists the stored copy is corrupt',
    details: { expected, actual, ...extra },
  });
}

/** Pass-through that hashes and, at the end, errors with DIGEST_MISMATCH (or a size mismatch). */
export class DigestVerifier extends Transform {
  #hash: Hash;
  #size = 0;
  #expected: Digest;
  #expectedSize: number | undefined;
  #what: string;

  constructor(expected: Digest, what: string, expectedSize?: number) {
    super();
    this.#expected = expected;
    this.#expectedSize = expectedSize;
    this.#what = what;
    this.#hash = createHash(algorithmOf(expected));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const actual = `${algorithmOf(this.#expected)}:${this.#hash.digest('hex')}`;
    if (actual !== this.#expected) {
      cb(digestMismatch(this.#what, this.#expected, actual, { size: this.#size }));
    } else if (this.#expectedSize !== undefined && this.#expectedSize !== this.#size) {
      cb(digestMismatch(this.#what, `${this.#expectedSize} bytes`, `${this.#size} bytes`));
    } else {
      cb();
    }
  }
}
