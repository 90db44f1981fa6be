import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { ParallelGzip } from '../../src/oci/layer/pgzip.ts';
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
