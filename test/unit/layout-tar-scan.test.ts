// The air-gap archive's table of contents is read by seeking from header to header: entries with
// their offsets, a cut file or a damaged header reported as such, and sizes over 8 GiB (GNU
// base-256, as kiln's writer emits them) read right, on a sparse file so nothing is written.
import assert from 'node:assert/strict';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ustarHeader } from '../../src/oci/layer/tar.ts';
import { scanTar } from '../../src/oci/layout/tar-scan.ts';
import { tempDir } from '../rig/proc.ts';

let dir: { path: string; remove: () => Promise<void> };
before(async () => {
  dir = await tempDir('tar-scan');
});
after(async () => {
  await dir?.remove();
});

const header = (name: string, size: number) =>
  ustarHeader({ name, prefix: '', size, mode: 0o644, type: '0', mtime: 0 });
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

async function scan(file: string) {
  const fh = await open(file, 'r');
  try {
    return await scanTar(fh);
  } finally {
    await fh.close();
  }
}

test('lists every entry with its offset and size, and sees the end-of-archive marker', async () => {
  const a = Buffer.from('hello');
  const b = Buffer.alloc(700, 1);
  const file = join(dir.path, 'ok.tar');
  await writeFile(
    file,
    Buffer.concat([header('a', 5), a, pad(5), header('dir/b', 700), b, pad(700), Buffer.alloc(1024)]),
  );
  const toc = await scan(file);
  assert.equal(toc.complete, true);
  assert.deepEqual(toc.entries.get('a'), { name: 'a', offset: 512, size: 5 });
  assert.deepEqual(toc.entries.get('dir/b'), { name: 'dir/b', offset: 1536, size: 700 });
});

test('a cut file says which entry is cut short; a missing marker and a damaged header are reported', async () => {
  const file = join(dir.path, 'cut.tar');
  await writeFile(
    file,
    Buffer.concat([header('a', 5), Buffer.from('hello'), pad(5), header('big', 4096), Buffer.alloc(100)]),
  );
  const cut = await scan(file);
  assert.equal(cut.complete, false);
  assert.match(cut.problem ?? '', /big is cut short/);
  await writeFile(file, Buffer.concat([header('a', 5), Buffer.from('hello'), pad(5)]));
  assert.match((await scan(file)).problem ?? '', /without the end-of-archive marker/);
  const bad = header('a', 5);
  bad[0] = 0x41;
  await writeFile(file, Buffer.concat([bad, Buffer.from('hello'), pad(5), Buffer.alloc(1024)]));
  assert.match((await scan(file)).problem ?? '', /damaged tar header at byte 0/);
});

test('an entry over 8 GiB (base-256 size) is read with its exact size', async () => {
  const size = 9 * 2 ** 30 + 3;
  const file = join(dir.path, 'sparse.tar');
  await writeFile(file, header('huge', size));
  const end = 512 + size + (512 - (size % 512)) + 1024;
  await truncate(file, end); // a sparse file: the content and the trailing marker read as zeros
  const toc = await scan(file);
  assert.equal(toc.entries.get('huge')?.size, size);
  assert.equal(toc.complete, true);
});
