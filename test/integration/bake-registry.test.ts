// kiln bake end to end on the real rig: MLflow -> layer -> registry (and layouts), then the image
// is checked with skopeo, umoci and containerd, as the "done when" asks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { type ContainerdRig, startContainerd } from '../rig/containerd.ts';
import {
  BUSYBOX_LAYOUT,
  ensureBusyboxLayouts,
  type PushedImage,
  pushBusyboxBase,
  pushBusyboxMulti,
} from '../rig/images.ts';
import {
  type LoggedFixture,
  logModels,
  type MlflowRig,
  type SklearnFixture,
  startMlflow,
} from '../rig/mlflow.ts';
import { run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

let mlflow: MlflowRig;
let regA: RegistryRig;
let regB: RegistryRig;
let ctrd: ContainerdRig;
let fixture: SklearnFixture;
let weights: LoggedFixture;
let baseA: PushedImage;
let baseB: PushedImage;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;

before(async () => {
  [mlflow, regA, regB, ctrd, work] = await Promise.all([
    startMlflow(),
    startRegistry(),
    startRegistry(),
    startContainerd(),
    tempDir('bake-reg'),
  ]);
  const made = await logModels(mlflow, [
    { name: 'iris', alias: 'champion' },
    { name: 'weights', alias: 'champion', sizeBytes: (9 << 20) + 4321, seed: 'weights' },
  ]);
  fixture = made[0] as SklearnFixture;
  weights = made[1]!;
  await ensureBusyboxLayouts();
  [baseA, baseB] = await Promise.all([pushBusyboxBase(regA), pushBusyboxBase(regB)]);
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, DOCKER_CONFIG: join(work.path, 'docker') });
});

after(async () => {
  await Promise.all([mlflow?.stop(), regA?.stop(), regB?.stop(), ctrd?.stop()]);
  await work?.remove();
});

const pkl = () => fixture.files.find((f) => f.path === 'model.pkl')!;

test('baking twice, into a second registry and into oci:DIR gives one digest; stdout is only the reference', async () => {
  const first = await kiln(
    ['bake', 'models:/iris@champion', '--to', `${regA.host}/ml/iris`, '--base', baseA.ref],
    { env },
  );
  assert.equal(first.code, 0, first.stderr);
  const ref = first.stdout.trim();
  assert.match(ref, new RegExp(`^${regA.host}/ml/iris@sha256:[a-f0-9]{64}$`));
  const digest = ref.split('@')[1]!;

  const again = await kiln(
    ['bake', `models:/iris/${fixture.version}`, '--to', `${regA.host}/ml/iris`, '--base', baseA.ref],
    { env },
  );
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), ref);
  assert.match(again.stderr, /nothing to do/);

  const other = await kiln(
    ['bake', 'models:/iris@champion', '--to', `${regB.host}/models/iris`, '--base', baseB.ref],
    { env },
  );
  assert.equal(other.stdout.trim(), `${regB.host}/models/iris@${digest}`, other.stderr);

  const dir = join(work.path, 'layout');
  const layout = await kiln(
    ['bake', 'models:/iris@champion', '--to', `oci:${dir}`, '--base', `oci:${BUSYBOX_LAYOUT}:latest`],
    { env },
  );
  assert.equal(layout.stdout.trim(), `oci:${dir}@${digest}`, layout.stderr);

  const tagged = await run('skopeo', [
    'inspect',
    '--tls-verify=false',
    `docker://${regA.host}/ml/iris:v${fixture.version}`,
  ]);
  assert.equal(
    (JSON.parse(tagged.stdout) as { Digest: string }).Digest,
    digest,
    'the default tag v<version> names the digest',
  );
});

test('containerd pulls and runs the baked image; the model file inside matches MLflow byte for byte', async () => {
  const res = await kiln(
    [
      'bake',
      'models:/iris@champion',
      '--to',
      `${regA.host}/ml/iris-run`,
      '--base',
      baseA.ref,
      '--compression',
      'zstd',
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const ref = res.stdout.trim();
  await ctrd.pull(ref);
  const out = await ctrd.run(
    ref,
    ['sh', '-c', 'sha256sum /mnt/models/model.pkl; echo "$MODEL_NAME $MODEL_VERSION"'],
    { user: '1000:1000' },
  );
  assert.equal(out.exitCode, 0, out.stderr);
  const [sum, env2] = out.stdout.trim().split('\n');
  assert.equal(sum?.split(/\s+/)[0], pkl().sha256);
  assert.equal(env2, `iris ${fixture.version}`);
});

test('umoci unpacks the image and the config carries the MLflow provenance labels', async () => {
  const dir = join(work.path, 'umoci');
  const res = await kiln(
    [
      'bake',
      'models:/iris@champion',
      '--to',
      `oci:${dir}:model`,
      '--base',
      `oci:${BUSYBOX_LAYOUT}:latest`,
      '--json',
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as {
    digest: string;
    files: { path: string; sha256: string }[];
    model: { runId: string };
  };
  assert.equal(out.model.runId, fixture.runId);
  await run('umoci', ['unpack', '--rootless', '--image', `${dir}:model`, join(work.path, 'bundle')]);
  const bytes = await readFile(join(work.path, 'bundle', 'rootfs', 'mnt', 'models', 'model.pkl'));
  assert.equal(createHash('sha256').update(bytes).digest('hex'), pkl().sha256);
  const { stdout } = await run('skopeo', ['inspect', `oci:${dir}:model`]);
  const labels = (JSON.parse(stdout) as { Labels: Record<string, string> }).Labels;
  assert.equal(labels['dev.kiln.mlflow.model'], 'iris');
  assert.equal(labels['dev.kiln.mlflow.version'], fixture.version);
  assert.equal(labels['org.opencontainers.image.revision'], fixture.runId);
  const files = JSON.parse(labels['dev.kiln.model.files']!) as { path: string; sha256: string }[];
  assert.deepEqual(
    files.map((f) => [f.path, f.sha256]),
    fixture.files
      .map((f) => [`mnt/models/${f.path}`, f.sha256])
      .sort(([a], [b]) => Buffer.compare(Buffer.from(a!), Buffer.from(b!))),
  );
});

test('a multi-platform base gives an index with every runnable platform and no attestation entry', async () => {
  const multi = await pushBusyboxMulti(regA);
  const res = await kiln(
    ['bake', 'models:/iris@champion', '--to', `${regA.host}/ml/iris-multi`, '--base', multi.ref],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const { stdout } = await run('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${res.stdout.trim()}`,
  ]);
  const index = JSON.parse(stdout) as {
    mediaType: string;
    manifests: { platform: { os: string; architecture: string } }[];
  };
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), [
    'linux/amd64',
    'linux/arm64',
  ]);
  await ctrd.pull(res.stdout.trim());
  const out = await ctrd.run(res.stdout.trim(), ['sha256sum', '/mnt/models/model.pkl']);
  assert.equal(out.stdout.split(/\s+/)[0], pkl().sha256);
});

test('modelcar mode puts the files under /models on a shell base with no entrypoint', async () => {
  const res = await kiln(
    [
      'bake',
      'models:/iris@champion',
      '--to',
      `${regA.host}/ml/iris-modelcar`,
      '--base',
      baseA.ref,
      '--mode',
      'modelcar',
      '--tag',
      'mc-{version}',
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const ref = res.stdout.trim();
  await ctrd.pull(ref);
  const cfg = await ctrd.imageConfig(ref);
  assert.equal(cfg.config?.Entrypoint ?? null, null);
  // What KServe runs in a modelcar container: link the model dir where the server reads it, then sleep.
  const out = await ctrd.run(ref, [
    'sh',
    '-c',
    'ln -s /models /tmp/mnt-models && sha256sum /tmp/mnt-models/model.pkl && ls /mnt/models 2>&1 || true',
  ]);
  assert.equal(out.stdout.split(/\s+/)[0], pkl().sha256);
  assert.match(out.stdout, /No such file/);
});

test('a gzip layer of many parallel-compressed members is pulled, unpacked and run by containerd', async () => {
  const res = await kiln(
    [
      'bake',
      'models:/weights@champion',
      '--to',
      `${regA.host}/ml/weights`,
      '--base',
      baseA.ref,
      '--compression',
      'gzip',
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const ref = res.stdout.trim();
  await ctrd.pull(ref);
  const out = await ctrd.run(ref, ['sha256sum', '/mnt/models/model.pkl']);
  assert.equal(out.stdout.split(/\s+/)[0], weights.files.find((f) => f.path === 'model.pkl')?.sha256);
});

test('on a Docker-format base, gzip keeps Docker media types, zstd converts the whole image to OCI, and re-bakes are no-ops', async () => {
  const docker = `${regA.host}/base/busybox-docker:1`;
  await run('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    '--format',
    'v2s2',
    `oci:${BUSYBOX_LAYOUT}:latest`,
    `docker://${docker}`,
  ]);
  for (const compression of ['gzip', 'zstd']) {
    const args = [
      'bake',
      'models:/iris@champion',
      '--to',
      `${regA.host}/ml/iris-${compression}-on-docker`,
      '--base',
      docker,
      '--compression',
      compression,
    ];
    const first = await kiln(args, { env });
    assert.equal(first.code, 0, first.stderr);
    const again = await kiln(args, { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, first.stdout);
    assert.match(again.stderr, /nothing to do/);
    const { stdout } = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${first.stdout.trim()}`,
    ]);
    const m = JSON.parse(stdout) as {
      mediaType: string;
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
    const family = compression === 'gzip' ? 'application/vnd.docker.' : 'application/vnd.oci.';
    for (const t of [m.mediaType, m.config.mediaType, ...m.layers.map((l) => l.mediaType)])
      assert.ok(t.startsWith(family), `${compression}: ${t}`);
    await ctrd.pull(first.stdout.trim());
    const out = await ctrd.run(first.stdout.trim(), ['sha256sum', '/mnt/models/model.pkl']);
    assert.equal(out.stdout.split(/\s+/)[0], pkl().sha256);
  }
});
