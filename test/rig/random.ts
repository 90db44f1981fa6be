// Incompressible test data generated on the fly (like real model weights), hashed as it is made,
// so a test knows the true digest without holding the bytes or trusting the code under test.
import { createHash, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Digest } from '../../src/oci/digest.ts';

export interface RandomStream {
  stream: Readable;
  /** The sha256 of everything produced; valid once the stream has been read to the end. */
  digest(): Digest;
}

export function randomStream(size: number, chunkSize = 1 << 20): RandomStream {
  const hash = createHash('sha256');
  let left = size;
  let digest: Digest | undefined;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (left === 0) {
        digest = `sha256:${hash.digest('hex')}`;
        this.push(null);
        return;
      }
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(chunkSize, left)));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return {
    stream,
    digest() {
      if (!digest) throw new Error('randomStream.digest() read before the stream ended');
      return digest;
    },
  };
}

/** sha256 and byte count of a stream, read to its end. */
export async function hashStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
