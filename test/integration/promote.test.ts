// kiln promote end to end on real parts: MLflow alias -> bake -> registry -> cosign-verifiable
// signature -> InferenceService on a real Kubernetes API (KServe's CRD) -> MLflow tags written
// back; then idempotence, resumption after kill -9, and the embedded default (no registry, no cluster).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { KILN_MAIN, kiln, kilnEnv } from '../rig/cli.ts';
import { emptyTrustedRoot, verifyArgs } from '../rig/cosign.ts';
import { type PushedImage, pushBusyboxBase } from '../rig/images.ts';
import { getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { run, sleep, tempDir, toolPath } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { startAll } from '../rig/start-all.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let kube: KubeRig;
let base: PushedImage;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let versions: Record<string, string>;
const PASSWORD = 'promote-test-password';

before(async () => {
  ({ mlflow, registry, kube, work } = await startAll({
    mlflow: startMlflow(),
    registry: startRegistry(),
    kube: startKube(),
    work: tempDir('promote'),
  }));
  const made = await logModels(mlflow, [
    { name: 'risk', alias: 'champion' },
    { name: 'risk' },
    { name: 'embedded', alias: 'champion' },
    { name: 'big', alias: 'champion', sizeBytes: 192 << 20, seed: 'big' },
  ]);
  versions = { risk1: made[0]!.version, risk2: made[1]!.version, big: made[3]!.version };
  base = await pushBusyboxBase(registry);
  env = kilnEnv({
    MLFLOW_TRACKING_URI: mlflow.url,
    KUBECONFIG: kube.kubeconfigPath,
    COSIGN_PASSWORD: PASSWORD,
  });
  const keygen = await kiln(['keygen', '--output-key-prefix', join(work.path, 'kiln')], {
    env,
    cwd: work.path,
  });
  assert.equal(keygen.code, 0, keygen.stderr);
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop(), kube?.stop()]);
  await work?.remove();
});

/** True once some upload session under `dir` has received more than `bytes`. */
async function partialUpload(dir: string, bytes: number): Promise<boolean> {
  const sessions = await readdir(dir).catch(() => [] as string[]);
  for (const id of sessions) {
    const st = await stat(join(dir, id, 'data')).catch(() => undefined);
    if (st && st.size > bytes) return true;
  }
  return false;
}

async function versionTags(name: string, version: string): Promise<Record<string, string>> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${name}&version=${version}`);
  const body = (await res.json()) as { model_version: { tags?: { key: string; value: string }[] } };
  return Object.fromEntries((body.model_version.tags ?? []).map((t) => [t.key, t.value]));
}

const promoteArgs = (uri: string, { repo = 'ml/risk', isvc = 'prod/risk' } = {}) => [
  'promote',
  uri,
  '--to',
  `${registry.host}/${repo}`,
  '--base',
  base.ref,
  '--sign-key',
  join(work.path, 'kiln.key'),
  '--deploy',
  isvc,
  '--canary',
  '10',
  '--json',
];

test('promote bakes, signs, deploys a 10% canary by digest and records the image in MLflow', async () => {
  const res = await kiln(promoteArgs('models:/risk@champion'), { env, cwd: work.path });
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as {
    digest: string;
    reference: string;
    signed: boolean;
    deployedTo: string;
    reused: boolean;
  };
  assert.equal(out.reference, `${registry.host}/ml/risk@${out.digest}`);
  assert.equal(out.signed, true);
  assert.equal(out.reused, false);
  assert.equal(out.deployedTo, 'prod/risk');

  const isvc = await getIsvc(kube, 'prod', 'risk');
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 10);
  assert.equal(isvc.spec.predictor.containers[0].image, out.reference);

  const tags = await versionTags('risk', versions.risk1!);
  assert.deepEqual(
    {
      image: tags['kiln.image'],
      digest: tags['kiln.digest'],
      signed: tags['kiln.signed'],
      deployed: tags['kiln.deployed_to'],
    },
    { image: out.reference, digest: out.digest, signed: 'true', deployed: 'prod/risk' },
  );
  // The real cosign accepts the signature.
  await run(
    toolPath('cosign'),
    // kiln writes Sigstore bundles too: cosign v2.6.3+ then reads them, and offline needs a trusted root.
    verifyArgs(join(work.path, 'kiln.pub'), out.reference, [
      '--trusted-root',
      await emptyTrustedRoot(work.path),
      '--allow-insecure-registry',
      '--allow-http-registry',
    ]),
    {
      env: { ...process.env, COSIGN_PASSWORD: PASSWORD },
    },
  );
});

test('promoting the same version again uploads nothing and changes nothing', async () => {
  const first = JSON.parse(
    (await kiln(promoteArgs('models:/risk@champion'), { env, cwd: work.path })).stdout,
  ) as { digest: string };
  const rv = (await getIsvc(kube, 'prod', 'risk')).metadata.resourceVersion;
  const again = await kiln(promoteArgs('models:/risk@champion'), { env, cwd: work.path });
  assert.equal(again.code, 0, again.stderr);
  const out = JSON.parse(again.stdout) as {
    digest: string;
    reused: boolean;
    bytesPushed: number;
    durationMs: number;
  };
  assert.equal(out.digest, first.digest);
  assert.equal(out.reused, true);
  assert.equal(out.bytesPushed, 0);
  assert.match(again.stderr, /no upload/);
  assert.equal((await getIsvc(kube, 'prod', 'risk')).metadata.resourceVersion, rv, 'no write to the cluster');
  process.stderr.write(
    `# idempotent promote finished in ${out.durationMs} ms (in-process, excluding node start-up)\n`,
  );
});

test('an alias moved to a new version promotes the new digest as the canary', async () => {
  await setAlias(mlflow, 'risk', 'champion', versions.risk2!);
  const res = await kiln(promoteArgs('models:/risk@champion'), { env, cwd: work.path });
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { reference: string; version: string };
  assert.equal(out.version, versions.risk2);
  const isvc = await getIsvc(kube, 'prod', 'risk');
  assert.equal(isvc.spec.predictor.containers[0].image, out.reference);
  assert.equal(isvc.metadata.annotations['serving.kserve.io/deploymentMode'] ?? 'Serverless', 'Serverless');
});

test('a promotion killed mid-upload converges on the same digest when run again, with no moved tag', async () => {
  const args = promoteArgs('models:/big@champion', { repo: 'ml/big', isvc: 'prod/big' }).filter(
    (a) => a !== '--json',
  );
  const child = spawn(process.execPath, [KILN_MAIN, ...args], {
    env,
    cwd: work.path,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  while (!/baking models:\/big/.test(stderr)) {
    if (child.exitCode !== null) assert.fail(`promote ended before it was killed:\n${stderr}`);
    await sleep(50);
  }
  // Kill it while the registry holds a partial upload of the 192 MiB layer (an upload session's
  // data file exists only until the blob is committed), however fast the machine is.
  const uploads = join(
    registry.dir,
    'data',
    'docker',
    'registry',
    'v2',
    'repositories',
    'ml',
    'big',
    '_uploads',
  );
  while (!(await partialUpload(uploads, 8 << 20))) {
    if (child.exitCode !== null) assert.fail(`promote ended before it was killed:\n${stderr}`);
    await sleep(5);
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const tagsAfterKill = await versionTags('big', versions.big!);
  assert.equal(
    tagsAfterKill['kiln.digest'],
    undefined,
    'nothing recorded for a promotion that did not finish',
  );
  await assert.rejects(getIsvc(kube, 'prod', 'big'), /404/, 'no half-applied deployment');

  const resumed = await kiln([...args, '--json'], { env, cwd: work.path });
  assert.equal(resumed.code, 0, resumed.stderr);
  const out = JSON.parse(resumed.stdout) as { digest: string; reference: string };
  const again = JSON.parse((await kiln([...args, '--json'], { env, cwd: work.path })).stdout) as {
    digest: string;
  };
  assert.equal(again.digest, out.digest);
  const { stdout } = await run('skopeo', [
    'inspect',
    '--tls-verify=false',
    `docker://${registry.host}/ml/big:v${versions.big}`,
  ]);
  assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, out.digest);
  assert.equal((await getIsvc(kube, 'prod', 'big')).spec.predictor.containers[0].image, out.reference);
});

test('with nothing configured, promote bakes into ./kiln-images and writes the InferenceService YAML to ./kiln-deploy', async () => {
  const dir = await tempDir('promote-embedded');
  try {
    const res = await kiln(['promote', 'models:/embedded@champion'], {
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }),
      cwd: dir.path,
    });
    assert.equal(res.code, 0, res.stderr);
    const ref = res.stdout.trim();
    assert.match(ref, /^oci:.*kiln-images@sha256:[a-f0-9]{64}$/);
    const digest = ref.split('@')[1]!;
    const yaml = parse(await readFile(join(dir.path, 'kiln-deploy', 'default', 'embedded.yaml'), 'utf8')) as {
      kind: string;
      spec: { predictor: { containers: { image: string }[] } };
    };
    assert.equal(yaml.kind, 'InferenceService');
    assert.equal(yaml.spec.predictor.containers[0]?.image, `localhost/kiln/embedded@${digest}`);
    await run('skopeo', ['inspect', `oci:${join(dir.path, 'kiln-images')}:v1`]);
  } finally {
    await dir.remove();
  }
});
