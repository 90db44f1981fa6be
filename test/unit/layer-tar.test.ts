import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { createGunzip, zstdDecompressSync } from 'node:zlib';
import { isKilnError } from '../../src/errors.ts';
import { buildLayer } from '../../src/oci/layer/layer.ts';
import { safeArtifactPath } from '../../src/oci/layer/paths.ts';
import type { TarFile } from '../../src/oci/layer/tar.ts';
import { run, tempDir } from '../rig/proc.ts';

const fileOf = (path: string, data: Buffer): TarFile => ({
  path,
  size: data.length,
  open: () => Readable.from([data]),
});
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function layerBytes(
  files: TarFile[],
  compression: 'gzip' | 'zstd' | 'none' = 'none',
  mtime = 1_700_000_000,
) {
  const l = buildLayer(files, { mtime, compression, mediaType: 'x' });
  const bytes = await buffer(l.stream);
  return { bytes, ...l.result() };
}

test('the same files give a byte-identical layer, whatever order they are listed in', async () => {
  const a = Buffer.from('alpha');
  const b = randomBytes(70_000);
  const one = await layerBytes([fileOf('mnt/models/b.bin', b), fileOf('mnt/models/MLmodel', a)], 'gzip');
  const two = await layerBytes([fileOf('mnt/models/MLmodel', a), fileOf('mnt/models/b.bin', b)], 'gzip');
  assert.equal(one.descriptor.digest, two.descriptor.digest);
  assert.equal(one.diffId, two.diffId);
  assert.deepEqual(one.bytes, two.bytes);
});

test('GNU tar lists the entries sorted, root-owned, with fixed modes and mtime', async (t) => {
  const dir = await tempDir('tar');
  t.after(dir.remove);
  const long = `mnt/models/${'d'.repeat(120)}/${'f'.repeat(90)}.bin`; // needs the ustar prefix field
  const longer = `mnt/models/${'x'.repeat(200)}/${'y'.repeat(120)}`; // needs a pax path record
  const { bytes } = await layerBytes(
    [
      fileOf('mnt/models/model.pkl', Buffer.from('pickle')),
      fileOf(long, Buffer.from('L')),
      fileOf(longer, Buffer.from('P')),
    ],
    'none',
    1_600_000_000,
  );
  await writeFile(join(dir.path, 'l.tar'), bytes);
  const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir.path, 'l.tar')], {
    env: { ...process.env, TZ: 'UTC' },
  });
  const lines = stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(/\s+/).slice(-1)[0]),
    [
      'mnt/',
      'mnt/models/',
      `mnt/models/${'d'.repeat(120)}/`,
      long,
      'mnt/models/model.pkl',
      `mnt/models/${'x'.repeat(200)}/`,
      longer,
    ],
  );
  for (const l of lines) {
    const [mode, owner, , date, time] = l.split(/\s+/);
    assert.match(mode ?? '', /^(drwxr-xr-x|-rw-r--r--)$/);
    assert.equal(owner, '0/0');
    assert.equal(`${date} ${time}`, '2020-09-13 12:26:40');
  }
  // The bytes survive extraction.
  await run('tar', ['-xf', join(dir.path, 'l.tar'), '-C', dir.path]);
  const { stdout: sum } = await run('sha256sum', [join(dir.path, longer)]);
  assert.equal(sum.split(' ')[0], sha(Buffer.from('P')));
});

test('diff_id is the sha256 of the uncompressed tar and the digest that of the compressed blob', async () => {
  const data = randomBytes(200_000);
  const gz = await layerBytes([fileOf('m/a', data)], 'gzip');
  const raw = await buffer(Readable.from([gz.bytes]).pipe(createGunzip()));
  assert.equal(gz.diffId, `sha256:${sha(raw)}`);
  assert.equal(gz.descriptor.digest, `sha256:${sha(gz.bytes)}`);
  assert.equal(gz.descriptor.size, gz.bytes.length);
  const zs = await layerBytes([fileOf('m/a', data)], 'zstd');
  assert.equal(zs.diffId, gz.diffId);
  assert.equal(`sha256:${sha(zstdDecompressSync(zs.bytes))}`, zs.diffId);
  const none = await layerBytes([fileOf('m/a', data)], 'none');
  assert.equal(none.diffId, none.descriptor.digest);
  assert.equal(gz.files[0]?.sha256, sha(data));
});

test('gzip header carries mtime 0 and a fixed OS byte', async () => {
  const { bytes } = await layerBytes([fileOf('m/a', Buffer.from('x'))], 'gzip');
  assert.deepEqual([...bytes.subarray(4, 8)], [0, 0, 0, 0]);
  assert.equal(bytes[9], 3);
});

test('a file that delivers fewer bytes than listed fails the layer', async () => {
  const short: TarFile = { path: 'm/a', size: 10, open: () => Readable.from([Buffer.from('abc')]) };
  const l = buildLayer([short], { mtime: 0, compression: 'gzip', mediaType: 'x' });
  await assert.rejects(buffer(l.stream), (e: unknown) => isKilnError(e, 'ARTIFACT_SIZE_MISMATCH'));
});

test('unsafe artifact names are refused with the name in the message', () => {
  for (const bad of [
    '/etc/passwd',
    '../x',
    'a/../../b',
    'a\u0000b',
    'a//b',
    './a',
    'C:\\x',
    'a\\..\\b',
    '',
  ]) {
    assert.throws(
      () => safeArtifactPath(bad, 'models:/m/1'),
      (e: unknown) => isKilnError(e, 'ARTIFACT_PATH_UNSAFE') && e.message.includes('models:/m/1'),
      bad,
    );
  }
  assert.equal(safeArtifactPath('data/model.pkl', 'm'), 'data/model.pkl');
});
