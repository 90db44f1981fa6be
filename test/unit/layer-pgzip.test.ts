import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { constants, gunzipSync } from 'node:zlib';
import { blockStrategy, ParallelGzip } from '../../src/oci/layer/pgzip.ts';
import { run, tempDir } from '../rig/proc.ts';

// Several blocks, the last one partial, fed in odd-sized chunks.
const data = Buffer.concat([randomBytes(5 << 20), Buffer.alloc(3 << 20, 7), randomBytes(12_345)]);
const chunks = (): Readable => {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += 100_003) parts.push(data.subarray(off, off + 100_003));
  return Readable.from(parts);
};
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('block-parallel gzip output is a multi-member gzip that gunzip restores exactly', async (t) => {
  const gz = await buffer(chunks().pipe(new ParallelGzip({ blockSize: 1 << 20 })));
  const dir = await tempDir('pgzip');
  t.after(dir.remove);
  await writeFile(join(dir.path, 'x.gz'), gz);
  await run('gzip', ['-t', join(dir.path, 'x.gz')]);
  await run('gzip', ['-d', join(dir.path, 'x.gz')]);
  const { stdout } = await run('sha256sum', [join(dir.path, 'x')]);
  assert.equal(stdout.split(' ')[0], sha(data));
  assert.ok(gz.length < data.length, 'the zero-filled part compresses');
});

test('the same input gives the same bytes whatever the parallelism and chunking', async () => {
  const a = await buffer(chunks().pipe(new ParallelGzip({ blockSize: 1 << 20, parallelism: 1 })));
  const b = await buffer(
    Readable.from([data]).pipe(new ParallelGzip({ blockSize: 1 << 20, parallelism: 4 })),
  );
  assert.equal(sha(a), sha(b));
});

test('input of exactly N blocks gives exactly N members, the same for every parallelism', async () => {
  const exact = data.subarray(0, 4 << 20);
  const one = await buffer(
    Readable.from([exact]).pipe(new ParallelGzip({ blockSize: 1 << 20, parallelism: 1 })),
  );
  const four = await buffer(
    Readable.from([exact]).pipe(new ParallelGzip({ blockSize: 1 << 20, parallelism: 4 })),
  );
  assert.equal(sha(one), sha(four));
});

test('empty input still gives a valid gzip stream', async () => {
  const gz = await buffer(Readable.from([]).pipe(new ParallelGzip()));
  assert.equal(gz[0], 0x1f);
  assert.equal(gz[1], 0x8b);
});

/** float32 values around 0 with a small spread, as trained weights are (not random bytes). */
function weights(bytes: number): Buffer {
  const f = new Float32Array(bytes / 4);
  for (let i = 0; i < f.length; i++) f[i] = (Math.random() - 0.5) * 0.05;
  return Buffer.from(f.buffer);
}

test('binary blocks (weights, random) are deflated with runs only, text keeps string matching', () => {
  const json = Buffer.from(
    JSON.stringify(Array.from({ length: 30_000 }, (_, i) => ({ token: `tok_${i}`, id: i }))),
  );
  assert.equal(blockStrategy(weights(1 << 20)), constants.Z_RLE);
  assert.equal(blockStrategy(randomBytes(1 << 20)), constants.Z_RLE);
  assert.equal(blockStrategy(json.subarray(0, 1 << 20)), constants.Z_DEFAULT_STRATEGY);
  assert.equal(blockStrategy(Buffer.alloc(0)), constants.Z_RLE);
});

test('weights still shrink and text still compresses well, and both restore exactly', async () => {
  const w = weights(2 << 20);
  const text = Buffer.from('{"architectures": ["BertModel"], "hidden_size": 768}\n'.repeat(40_000));
  for (const [input, atMost] of [
    [w, 0.97], // the exponent bytes: ~7% saved on real and synthetic weights alike
    [text, 0.05], // repeated JSON: string matches, which runs-only would miss (~60%)
  ] as const) {
    const gz = await buffer(Readable.from([input]).pipe(new ParallelGzip({ blockSize: 1 << 20 })));
    assert.ok(gz.length < input.length * atMost, `${gz.length} of ${input.length} bytes`);
    assert.equal(sha(gunzipSync(gz)), sha(input));
  }
});
