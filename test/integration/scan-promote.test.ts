// The model security gate on real parts (MLflow, registry, cosign): a version whose model.pkl
// calls posix.getpid when unpickled is refused in the same pass as the bake (exit 3, nothing
// tagged, signed or deployed, MLflow says why); an ordinary scikit-learn version promotes as
// before and its signed provenance carries the scan.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { cosignIn, emptyTrustedRoot, ok, verifyAttestationArgs } from '../rig/cosign.ts';
import { logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

const PASSWORD = 'scan-test-password';
// protocol 2: GLOBAL posix.getpid, EMPTY_TUPLE, REDUCE, STOP (harmless if it ever ran).
const EVIL = Buffer.from('\x80\x02cposix\ngetpid\n)R.', 'latin1');

let mlflow: MlflowRig;
let registry: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let evilVersion: string;

before(async () => {
  [mlflow, registry, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('scan-promote')]);
  const [, evil] = await logModels(mlflow, [
    { name: 'safe', alias: 'champion' },
    { name: 'evil', sizeBytes: EVIL.length, seed: 'evil' },
  ]);
  await writeFile(join(evil!.modelDir, 'model.pkl'), EVIL);
  evilVersion = evil!.version;
  await setAlias(mlflow, 'evil', 'champion', evilVersion);
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, COSIGN_PASSWORD: PASSWORD });
  const keygen = await kiln(['keygen', '--output-key-prefix', join(work.path, 'kiln')], {
    env,
    cwd: work.path,
  });
  assert.equal(keygen.code, 0, keygen.stderr);
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop()]);
  await work?.remove();
});

async function versionTags(name: string, version: string): Promise<Record<string, string>> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${name}&version=${version}`);
  const body = (await res.json()) as { model_version: { tags?: { key: string; value: string }[] } };
  return Object.fromEntries((body.model_version.tags ?? []).map((t) => [t.key, t.value]));
}

async function registryTags(repo: string): Promise<string[]> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
}

const promote = (name: string, extra: string[] = []) =>
  kiln(
    [
      'promote',
      `models:/${name}@champion`,
      '--to',
      `${registry.host}/ml/${name}`,
      '--sign-key',
      join(work.path, 'kiln.key'),
      ...extra,
    ],
    {
      env,
      cwd: work.path,
    },
  );

test('a model that runs code on load is refused: exit 3, the finding, no tag, no signature, no deployment, MLflow says why', async () => {
  const r = await promote('evil');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /SCAN_BLOCKED|security scan blocked/);
  assert.match(r.stderr, /model\.pkl @\d+ REDUCE posix\.getpid \(reduce\)/);
  assert.equal(r.stdout.trim(), '');
  assert.deepEqual(await registryTags('ml/evil'), [], 'no tag, no .sig/.att tag');
  const tags = await versionTags('evil', evilVersion);
  assert.match(tags['kiln.scan'] ?? '', /^blocked: model\.pkl @\d+ REDUCE posix\.getpid/);
  assert.equal(tags['kiln.digest'], undefined);
  assert.deepEqual(
    await readdir(join(work.path, 'kiln-deploy')).catch(() => []),
    [],
    'no InferenceService written',
  );
  // Promoting it again under the same policy is refused from the record, without a download.
  const again = await promote('evil');
  assert.equal(again.code, 3, again.stderr);
  assert.match(again.stderr, /blocked by the model security scan under the same policy: model\.pkl/);
});

test('--scan warn lets the same version through with the finding on stderr and in MLflow', async () => {
  const r = await promote('evil', ['--scan', 'warn']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /posix\.getpid/);
  assert.match((await versionTags('evil', evilVersion))['kiln.scan'] ?? '', /^warned: /);
});

test('an ordinary scikit-learn model promotes as before; the signed provenance carries the scan', async () => {
  const r = await promote('safe');
  assert.equal(r.code, 0, r.stderr);
  const ref = r.stdout.trim();
  const tags = await versionTags('safe', '1');
  assert.equal(tags['kiln.scan'], 'passed');
  assert.equal(tags['kiln.image'], ref);
  const cosign = cosignIn(work.path);
  const att = await ok(
    // kiln writes Sigstore bundles too: cosign v2.6.3+ then reads them, and offline needs a trusted root.
    cosign(
      verifyAttestationArgs(join(work.path, 'kiln.pub'), ref, [
        '--trusted-root',
        await emptyTrustedRoot(work.path),
      ]),
    ),
    'cosign verify-attestation',
  );
  const envelope = JSON.parse(att.stdout.trim().split('\n')[0]!) as { payload: string };
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as {
    predicate: {
      runDetails: {
        byproducts?: {
          name: string;
          annotations: {
            verdict: string;
            files: { path: string; kind: string; verdict: string }[];
            packs: unknown[];
          };
        }[];
      };
    };
  };
  const scan = statement.predicate.runDetails.byproducts?.find(
    (b) => b.name === 'kiln-model-scan',
  )?.annotations;
  assert.ok(scan, 'scan byproduct in the provenance');
  assert.equal(scan.verdict, 'pass');
  assert.deepEqual(
    scan.files.find((f) => f.path === 'model.pkl'),
    { ...scan.files.find((f) => f.path === 'model.pkl'), kind: 'pickle', verdict: 'pass' },
  );
  assert.ok(scan.packs.length >= 9);
});

test('kiln scan reads the model layer of the promoted image and the MLflow version directly', async () => {
  const tags = await versionTags('safe', '1');
  const image = await kiln(['scan', tags['kiln.image']!, '--json'], { env, cwd: work.path });
  assert.equal(image.code, 0, image.stderr);
  const out = JSON.parse(image.stdout) as { verdict: string; files: { path: string; kind: string }[] };
  assert.equal(out.verdict, 'pass');
  assert.ok(
    out.files.some((f) => f.path === 'mnt/models/model.pkl' && f.kind === 'pickle'),
    image.stdout,
  );
  const evil = await kiln(['scan', 'models:/evil@champion', '--sarif', join(work.path, 'evil.sarif')], {
    env,
    cwd: work.path,
  });
  assert.equal(evil.code, 3, evil.stderr);
  assert.match(evil.stderr, /model\.pkl: pickle, block/);
  const sarif = JSON.parse(await readFile(join(work.path, 'evil.sarif'), 'utf8')) as {
    version: string;
    runs: { results: { ruleId: string; level: string; properties: { global?: string } }[] }[];
  };
  assert.equal(sarif.version, '2.1.0');
  assert.deepEqual(
    sarif.runs[0]!.results.map((r) => [r.ruleId, r.level, r.properties.global]),
    [['KNOWN_CODE_EXECUTION', 'error', 'posix.getpid']],
  );
  const missing = await kiln(['scan', join(work.path, 'no-such-file')], { env, cwd: work.path });
  assert.equal(missing.code, 1, missing.stderr);
});
