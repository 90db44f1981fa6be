// Bake into an OCI layout directory (the embedded default target) and check the result with
// the real tools users have: skopeo and umoci. Model files come from memory here; the MLflow
// path is covered by bake-mlflow.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { OciArchive } from '../../src/oci/layout/archive.ts';
import { OciLayout } from '../../src/oci/layout/layout.ts';
import { bake } from '../../src/pipeline/bake.ts';
import type { ModelFiles } from '../../src/pipeline/model.ts';
import { run, tempDir } from '../rig/proc.ts';

function memoryModel(version: string, files: Record<string, Buffer>): ModelFiles {
  const list = Object.entries(files).map(([path, data]) => ({ path, size: data.length }));
  return {
    facts: {
      name: 'iris',
      version,
      alias: 'champion',
      runId: 'r123',
      source: 'models:/m-abc',
      createdAt: new Date('2026-01-02T03:04:05Z'),
    },
    files: list,
    open: async (f) => Readable.from([files[f.path]!]),
  };
}

const weights = randomBytes(300_000);
const model = (v = '7') =>
  memoryModel(v, {
    'model.pkl': weights,
    MLmodel: Buffer.from('flavors: {}\n'),
    'sub/dir/conda.yaml': Buffer.from('x'),
  });

async function bakeInto(dir: string, m: ModelFiles, extra: Partial<Parameters<typeof bake>[0]> = {}) {
  const target = await OciLayout.open(dir, { create: true });
  return bake({
    model: m,
    target,
    base: undefined,
    mode: 'baked',
    compression: 'gzip',
    tag: `v${m.facts.version}`,
    forceTag: false,
    sourceDateEpoch: undefined,
    ...extra,
  });
}

test('a model baked into oci:DIR is readable by skopeo and unpacks with umoci to world-readable files', async (t) => {
  const dir = await tempDir('bake-layout');
  t.after(dir.remove);
  const layout = join(dir.path, 'layout');
  const res = await bakeInto(layout, model());
  assert.match(res.reference, /^oci:.*@sha256:[a-f0-9]{64}$/);
  const { stdout } = await run('skopeo', ['inspect', `oci:${layout}:v7`]);
  const info = JSON.parse(stdout) as { Digest: string; Labels: Record<string, string>; Env: string[] };
  assert.equal(info.Digest, res.digest);
  assert.equal(info.Labels['dev.kiln.mlflow.version'], '7');
  assert.ok(info.Env.includes('MODEL_NAME=iris') && info.Env.includes('MODEL_VERSION=7'));
  const bundle = join(dir.path, 'bundle');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:v7`, bundle]);
  const pkl = join(bundle, 'rootfs', 'mnt', 'models', 'model.pkl');
  assert.deepEqual(await readFile(pkl), weights);
  assert.equal((await stat(pkl)).mode & 0o777, 0o644);
  assert.equal((await stat(join(bundle, 'rootfs', 'mnt', 'models', 'sub', 'dir'))).mode & 0o777, 0o755);
  const files = JSON.parse(info.Labels['dev.kiln.model.files'] ?? '[]') as { path: string; sha256: string }[];
  assert.equal(
    files.find((f) => f.path === 'mnt/models/model.pkl')?.sha256,
    createHash('sha256').update(weights).digest('hex'),
  );
});

test('baking the same version twice gives the same digest, and the second bake is a no-op', async (t) => {
  const a = await tempDir('bake-a');
  const b = await tempDir('bake-b');
  t.after(a.remove);
  t.after(b.remove);
  const first = await bakeInto(a.path, model());
  const again = await bakeInto(a.path, model());
  const elsewhere = await bakeInto(b.path, model());
  assert.equal(again.digest, first.digest);
  assert.equal(again.reused, true);
  assert.equal(elsewhere.digest, first.digest);
  assert.equal(elsewhere.reused, false);
});

test('SOURCE_DATE_EPOCH changes the timestamps and so the digest, deterministically', async (t) => {
  const a = await tempDir('bake-sde');
  t.after(a.remove);
  const one = await bakeInto(join(a.path, '1'), model(), { sourceDateEpoch: 1_000_000_000 });
  const two = await bakeInto(join(a.path, '2'), model(), { sourceDateEpoch: 1_000_000_000 });
  const other = await bakeInto(join(a.path, '3'), model(), { sourceDateEpoch: 1_000_000_001 });
  assert.equal(one.digest, two.digest);
  assert.notEqual(one.digest, other.digest);
});

test('a tag held by another digest is refused with exit-3 policy error naming the digest', async (t) => {
  const a = await tempDir('bake-tag');
  t.after(a.remove);
  const first = await bakeInto(a.path, model('7'));
  await assert.rejects(
    bakeInto(a.path, model('8'), { tag: 'v7' }),
    (e: unknown) =>
      isKilnError(e, 'TAG_HELD') &&
      e.exitCode === 3 &&
      e.message.includes(first.digest) &&
      e.message.includes('version 7'),
  );
  const target = await OciLayout.open(a.path, { create: false });
  assert.equal(await target.resolveTag('v7'), first.digest, 'the tag did not move');
  const forced = await bakeInto(a.path, model('8'), { tag: 'v7', forceTag: true });
  assert.equal(await target.resolveTag('v7'), forced.digest);
});

test('an artifact name that escapes the model directory is refused before anything is written', async (t) => {
  const a = await tempDir('bake-unsafe');
  t.after(a.remove);
  await assert.rejects(
    bakeInto(a.path, memoryModel('1', { '../../etc/cron.d/x': Buffer.from('evil') })),
    (e: unknown) =>
      isKilnError(e, 'ARTIFACT_PATH_UNSAFE') && e.exitCode === 2 && e.message.includes('../../etc/cron.d/x'),
  );
  const target = await OciLayout.open(a.path, { create: false });
  assert.deepEqual((await target.readIndex()).manifests, []);
});

test('oci-archive:FILE.tar holds the same image as oci:DIR, readable by skopeo', async (t) => {
  const a = await tempDir('bake-archive');
  t.after(a.remove);
  const inLayout = await bakeInto(join(a.path, 'layout'), model());
  const file = join(a.path, 'model.tar');
  const res = await bake({
    model: model(),
    target: await OciArchive.create(file),
    base: undefined,
    mode: 'baked',
    compression: 'gzip',
    tag: 'v7',
    forceTag: false,
    sourceDateEpoch: undefined,
  });
  assert.equal(res.digest, inLayout.digest);
  assert.equal(res.reference, `oci-archive:${file}@${res.digest}`);
  const { stdout } = await run('skopeo', ['inspect', `oci-archive:${file}:v7`]);
  assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, res.digest);
  // skopeo can copy it out again: every blob the manifest names is in the archive.
  await run('skopeo', ['copy', `oci-archive:${file}:v7`, `oci:${join(a.path, 'copy')}:v7`]);
});

test('a failed bake into an archive leaves no file behind', async (t) => {
  const a = await tempDir('bake-archive-fail');
  t.after(a.remove);
  const file = join(a.path, 'model.tar');
  const broken: ModelFiles = { ...model(), open: async () => Readable.from([Buffer.from('short')]) };
  await assert.rejects(
    bake({
      model: broken,
      target: await OciArchive.create(file),
      base: undefined,
      mode: 'baked',
      compression: 'zstd',
      tag: 'v7',
      forceTag: false,
      sourceDateEpoch: undefined,
    }),
    (e: unknown) => isKilnError(e, 'ARTIFACT_SIZE_MISMATCH'),
  );
  assert.deepEqual(await readdir(a.path), []);
});

test('eight models baked at once into one layout all keep their tags', async (t) => {
  const a = await tempDir('bake-concurrent');
  t.after(a.remove);
  const models = Array.from({ length: 8 }, (_, i) => ({
    ...memoryModel('1', { 'model.pkl': randomBytes(1000 + i) }),
    facts: { ...model().facts, name: `m${i}`, version: '1' },
  }));
  const target = await OciLayout.open(a.path, { create: true });
  const results = await Promise.all(
    models.map((m) =>
      bake({
        model: m,
        target,
        base: undefined,
        mode: 'baked',
        compression: 'gzip',
        tag: `${m.facts.name}-v1`,
        forceTag: false,
        sourceDateEpoch: undefined,
      }),
    ),
  );
  for (const [i, r] of results.entries()) assert.equal(await target.resolveTag(`m${i}-v1`), r.digest);
});
