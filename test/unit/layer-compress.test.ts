import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { Coalesce, compressor } from '../../src/oci/layer/compress.ts';

const input = randomBytes((3 << 20) + 12_345);
const pieces = (): Buffer[] => {
  const out: Buffer[] = [];
  for (let off = 0; off < input.length; off += 65_536) out.push(input.subarray(off, off + 65_536));
  return out;
};

test('Coalesce joins socket-sized chunks into pieces of at least the size, bytes unchanged', async () => {
  const sizes: number[] = [];
  const joined = Readable.from(pieces()).pipe(new Coalesce(1 << 20));
  joined.on('data', (c: Buffer) => sizes.push(c.length));
  assert.deepEqual(await buffer(joined), input);
  assert.equal(sizes.length, 4);
  assert.ok(
    sizes.slice(0, -1).every((n) => n >= 1 << 20),
    String(sizes),
  );
  assert.equal(sizes.at(-1), input.length - sizes.slice(0, -1).reduce((a, b) => a + b, 0));
});

test('the zstd stages give one zstd stream that restores the input', async () => {
  const stages = compressor('zstd');
  const out = pipeline([Readable.from(pieces()), ...stages], () => {});
  const z = await buffer(out as unknown as Readable);
  assert.deepEqual(zstdDecompressSync(z), input);
  assert.deepEqual(compressor('none'), []);
});
