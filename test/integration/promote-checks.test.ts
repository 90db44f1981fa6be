// kiln promote as a newcomer meets it, on a real MLflow, registry and Kubernetes API: every
// destination is checked before the first byte moves, --dry-run says what would happen, a
// local-only run writes nothing to the shared MLflow, MLflow never records a deployment that did
// not happen, no flag (--manifests with --deploy, --canary) is silently dropped, and `kiln
// history` works from MLflow's tags when there is no kiln serve state.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { type PushedImage, pushBusyboxBase } from '../rig/images.ts';
import { getIsvc, isvcPath, type KubeRig, kubeRequest, startKube } from '../rig/kube.ts';
import { logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { freePort, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let kube: KubeRig;
let base: PushedImage;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;

before(async () => {
  [mlflow, registry, kube, work] = await Promise.all([
    startMlflow(),
    startRegistry(),
    startKube(),
    tempDir('promote-checks'),
  ]);
  await logModels(mlflow, [
    { name: 'nocluster', alias: 'champion' },
    { name: 'dry', alias: 'champion' },
    { name: 'local', alias: 'champion' },
    { name: 'yamlonly', alias: 'champion' },
    { name: 'moved', alias: 'champion' },
    { name: 'signed', alias: 'champion' },
  ]);
  base = await pushBusyboxBase(registry);
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, KUBECONFIG: kube.kubeconfigPath });
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop(), kube?.stop()]);
  await work?.remove();
});

async function kilnTags(name: string): Promise<Record<string, string>> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${name}&version=1`);
  const body = (await res.json()) as { model_version: { tags?: { key: string; value: string }[] } };
  return Object.fromEntries(
    (body.model_version.tags ?? []).filter((t) => t.key.startsWith('kiln.')).map((t) => [t.key, t.value]),
  );
}

const repoHasTags = async (repo: string): Promise<boolean> =>
  (await fetch(`${registry.url}/v2/${repo}/tags/list`)).status === 200;

const isvcExists = async (ns: string, name: string): Promise<boolean> =>
  (await kubeRequest(kube.server, kube.tls, 'GET', isvcPath(ns, name))).status === 200;

test('--deploy to a cluster that cannot be reached fails before anything is baked, pushed or recorded', async () => {
  const dead = join(work.path, 'dead.kubeconfig');
  await kube.writeKubeconfig(dead, `https://127.0.0.1:${await freePort()}`);
  const res = await kiln(
    [
      'promote',
      'models:/nocluster@champion',
      '--to',
      `${registry.host}/ml/nocluster`,
      '--base',
      base.ref,
      '--deploy',
      'prod/nocluster',
      '--json',
    ],
    { env: { ...env, KUBECONFIG: dead } },
  );
  assert.equal(res.code, 1, res.stderr);
  assert.equal((JSON.parse(res.stdout) as { error: { code: string } }).error.code, 'KUBE_UNREACHABLE');
  assert.doesNotMatch(res.stderr, /baking/);
  assert.equal(await repoHasTags('ml/nocluster'), false, 'nothing pushed');
  assert.deepEqual(await kilnTags('nocluster'), {}, 'nothing recorded in MLflow');
});

test('--dry-run checks the destinations and says what would happen, moving nothing', async () => {
  const res = await kiln(
    [
      'promote',
      'models:/dry@champion',
      '--to',
      `${registry.host}/ml/dry`,
      '--base',
      base.ref,
      '--deploy',
      'prod/dry',
      '--canary',
      '10',
      '--dry-run',
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /dry run: nothing was changed/);
  assert.match(res.stdout, /resolve models:\/dry@champion -> version 1/);
  assert.match(res.stdout, new RegExp(`bake onto ${base.ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(res.stdout, /deploy InferenceService prod\/dry as a 10% canary on https:\/\/127\.0\.0\.1:/);
  assert.match(res.stdout, /record kiln\.image, kiln\.digest, kiln\.signed, kiln\.deployed_to/);
  assert.match(res.stderr, /will not be signed/);
  assert.equal(await repoHasTags('ml/dry'), false);
  assert.equal(await isvcExists('prod', 'dry'), false);
  assert.deepEqual(await kilnTags('dry'), {});
});

test('a local-only promote writes nothing to MLflow, honours --canary in the YAML and warns about the unpullable name', async () => {
  const dir = await tempDir('promote-local');
  try {
    const res = await kiln(['promote', 'models:/local@champion', '--canary', '30'], {
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }),
      cwd: dir.path,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await kilnTags('local'), {}, "this machine's paths stay out of MLflow");
    const yaml = parse(await readFile(join(dir.path, 'kiln-deploy', 'default', 'local.yaml'), 'utf8')) as {
      spec: { predictor: { canaryTrafficPercent?: number } };
    };
    assert.equal(yaml.spec.predictor.canaryTrafficPercent, 30);
    assert.match(res.stderr, /warn: no --base/);
    assert.match(
      res.stderr,
      /which no cluster can pull: copy the image to a registry first \(skopeo copy --preserve-digests/,
    );
    // Asked explicitly, it records.
    const recorded = await kiln(['promote', 'models:/local@champion', '--record'], {
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }),
      cwd: dir.path,
    });
    assert.equal(recorded.code, 0, recorded.stderr);
    assert.equal((await kilnTags('local'))['kiln.digest'], recorded.stdout.trim().split('@')[1]);
  } finally {
    await dir.remove();
  }
});

test('--manifests with --deploy writes that InferenceService (with its canary) instead of applying it, and records no deployment', async () => {
  const out = join(work.path, 'manifests');
  const res = await kiln(
    [
      'promote',
      'models:/yamlonly@champion',
      '--to',
      `${registry.host}/ml/yamlonly`,
      '--base',
      base.ref,
      '--deploy',
      'prod/yamlonly',
      '--canary',
      '20',
      '--manifests',
      out,
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  const yaml = parse(await readFile(join(out, 'prod', 'yamlonly.yaml'), 'utf8')) as {
    spec: { predictor: { canaryTrafficPercent?: number; containers: { image: string }[] } };
  };
  assert.equal(yaml.spec.predictor.containers[0]?.image, res.stdout.trim());
  assert.equal(yaml.spec.predictor.canaryTrafficPercent, 20);
  assert.equal(await isvcExists('prod', 'yamlonly'), false, 'not applied');
  const tags = await kilnTags('yamlonly');
  assert.equal(tags['kiln.image'], res.stdout.trim());
  assert.equal(tags['kiln.deployed_to'], undefined, 'writing YAML is not a deployment');
});

test('MLflow never keeps a deployment recorded for an image that was replaced', async () => {
  const args = ['promote', 'models:/moved@champion', '--to', `${registry.host}/ml/moved`, '--base', base.ref];
  const first = await kiln([...args, '--deploy', 'prod/moved'], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await kilnTags('moved'))['kiln.deployed_to'], 'prod/moved');
  assert.equal(
    (await getIsvc(kube, 'prod', 'moved')).spec.predictor.containers[0].image,
    first.stdout.trim(),
  );
  // Rebuilt differently (new digest) and only written as YAML: the old deployment claim goes.
  const second = await kiln(
    [...args, '--compression', 'zstd', '--tag', 'v1-zstd', '--manifests', join(work.path, 'moved-yaml')],
    { env },
  );
  assert.equal(second.code, 0, second.stderr);
  assert.notEqual(second.stdout.trim(), first.stdout.trim());
  const tags = await kilnTags('moved');
  assert.equal(tags['kiln.image'], second.stdout.trim());
  assert.equal(tags['kiln.deployed_to'], undefined);
});

test('kiln history without kiln serve state lists what MLflow records', async () => {
  const cwd = await tempDir('history');
  try {
    const res = await kiln(['history', 'yamlonly'], { env, cwd: cwd.path });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /no kiln serve state .* showing what MLflow records/);
    const tags = await kilnTags('yamlonly');
    assert.match(res.stdout, /^VERSION\s+STATUS\s+DIGEST/);
    assert.match(res.stdout, new RegExp(`^1\\s+recorded\\s+${tags['kiln.digest']}\\s+no`, 'm'));
    assert.equal(existsSync(join(cwd.path, '.kiln')), false, 'history creates no state');
    const json = await kiln(['history', 'yamlonly', '--json'], { env, cwd: cwd.path });
    const body = JSON.parse(json.stdout) as { promotions: Array<{ version: string; digest: string }> };
    assert.deepEqual(
      body.promotions.map((p) => [p.version, p.digest]),
      [['1', tags['kiln.digest']]],
    );
  } finally {
    await cwd.remove();
  }
});

test('a re-run with nothing left to sign asks for no key password', async () => {
  const prefix = join(work.path, 'cosign');
  const keygen = await kiln(['keygen', '--output-key-prefix', prefix], {
    env: { ...env, COSIGN_PASSWORD: 'pw' },
  });
  assert.equal(keygen.code, 0, keygen.stderr);
  const args = [
    'promote',
    'models:/signed@champion',
    '--to',
    `${registry.host}/ml/signed`,
    '--base',
    base.ref,
    '--sign-key',
    `${prefix}.key`,
  ];
  // In the test's folder: with no deploy target the InferenceService YAML goes to ./kiln-deploy.
  const first = await kiln(args, { env: { ...env, COSIGN_PASSWORD: 'pw' }, cwd: work.path });
  assert.equal(first.code, 0, first.stderr);
  // No COSIGN_PASSWORD and no terminal: asking for the password would fail the run.
  const again = await kiln(args, { env, cwd: work.path });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, first.stdout);
  assert.match(again.stderr, /already baked as .* and signed: no upload/);
});
