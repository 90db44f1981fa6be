// kiln bake --sign-key end to end on the real rigs (MLflow, registry, skopeo) with the REAL cosign:
// the baked digest is signed and attested before its tag is written, for registry, oci: and
// oci-archive: targets; signatures travel with a layout/archive into another registry; the
// provenance records what a reviewer needs and no secret from the environment.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../src/oci/digest.ts';
import { Registry } from '../../src/oci/remote/client.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import { kiln, kilnEnv } from '../rig/cli.ts';
import {
  assertNoSecrets,
  cosignIn,
  emptyTrustedRoot,
  keySecrets,
  ok,
  type Ran,
  verifyArgs,
  verifyAttestationArgs,
} from '../rig/cosign.ts';
import { type PushedImage, pushBusyboxBase } from '../rig/images.ts';
import { logModels, type MlflowRig, type SklearnFixture, startMlflow } from '../rig/mlflow.ts';
import { run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

const KEY_PW = 'bake-Key-Pw-3141';
const MLFLOW_USER = 'mlflow-user-x7';
const MLFLOW_PW = 'Mlflow-Basic-Pw-2718';
const MLFLOW_TOKEN = 'mlflow-token-9d8c7b6a5f';

let mlflow: MlflowRig;
let reg: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let fixture: SklearnFixture;
let base: PushedImage;
let env: NodeJS.ProcessEnv;
let registry: Registry;
let cosign: ReturnType<typeof cosignIn>;
const outputs: string[] = [];
const at = (f: string): string => join(work.path, f);

async function bakeRun(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const r = await kiln(['bake', 'models:/iris@champion', ...args], {
    env: { ...env, ...extra },
    cwd: work.path,
  });
  outputs.push(r.stdout, r.stderr);
  return r;
}
const digestOf = (ref: string): Digest => ref.slice(ref.lastIndexOf('@') + 1) as Digest;
const tagsFor = (d: Digest) => ({
  sig: `${d.replace(':', '-')}.sig`,
  att: `${d.replace(':', '-')}.att`,
  /** The referrers tag schema's index of the Sigstore bundles (kiln writes both formats by default). */
  bundles: d.replace(':', '-'),
});
const repo = (name: string) => new RegistryRepository(registry, name);
// kiln writes Sigstore bundles next to the classic tags (both by default): cosign v2.6.5 then
// verifies the bundles, and offline it needs a trusted root for that (an empty one, for a key).
const root = (): string[] => ['--trusted-root', at('empty-trusted-root.json')];
const cosignVerify = (ref: string) => cosign(verifyArgs(at('kiln.pub'), ref, root()));
const cosignVerifyAtt = (ref: string) => cosign(verifyAttestationArgs(at('kiln.pub'), ref, root()));

interface Statement {
  subject: { name: string; digest: { sha256: string } }[];
  predicate: {
    buildDefinition: {
      externalParameters: Record<string, string>;
      resolvedDependencies: {
        uri?: string;
        name: string;
        digest?: { sha256: string };
        annotations?: Record<string, string>;
      }[];
    };
  };
}

/** The statement cosign verified (its stdout: one DSSE envelope per line). */
function statementFrom(cosignOut: Ran): Statement {
  const envelope = JSON.parse(cosignOut.stdout.trim().split('\n')[0]!) as { payload: string };
  return JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as Statement;
}

async function layerCount(repoName: string, tag: string): Promise<number> {
  const m = await repo(repoName).getManifest(tag);
  return (JSON.parse(m.bytes.toString()) as { layers: unknown[] }).layers.length;
}

/** skopeo copy the image tag, .sig and .att from `src` (oci:DIR or oci-archive:FILE) into `dest` repo. */
async function carry(src: string, dest: string, tag: string, digest: Digest): Promise<void> {
  const t = tagsFor(digest);
  // Not t.bundles: skopeo 1.9.3 refuses to copy the referrers index (OCI 1.1 descriptors) with
  // --preserve-digests ("Manifest list must be converted"); kiln export/import carries the
  // bundles (airgap.test.ts). Here the classic tags travel, as skopeo users carry them.
  for (const name of [tag, t.sig, t.att]) {
    await run('skopeo', [
      'copy',
      '--quiet',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `${src}:${name}`,
      `docker://${reg.host}/${dest}:${name}`,
    ]);
  }
}

before(async () => {
  [mlflow, reg, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('sign-bake')]);
  registry = new Registry(reg.host);
  cosign = cosignIn(work.path);
  await emptyTrustedRoot(work.path);
  fixture = (await logModels(mlflow, [{ name: 'iris', alias: 'champion' }]))[0] as SklearnFixture;
  base = await pushBusyboxBase(reg);
  const withCreds = new URL(mlflow.url);
  withCreds.username = MLFLOW_USER;
  withCreds.password = MLFLOW_PW;
  env = kilnEnv({
    MLFLOW_TRACKING_URI: withCreds.toString(),
    MLFLOW_TRACKING_TOKEN: MLFLOW_TOKEN,
    DOCKER_CONFIG: at('docker'),
    HOME: work.path,
    COSIGN_PASSWORD: KEY_PW,
  });
  const k = await kiln(['keygen', '--output-key-prefix', 'kiln'], { env, cwd: work.path });
  assert.equal(k.code, 0, k.stderr);
});

after(async () => {
  await Promise.all([mlflow?.stop(), reg?.stop()]);
  await work?.remove();
});

describe('into a registry', () => {
  let ref: string;
  before(async () => {
    const r = await bakeRun(['--to', `${reg.host}/ml/iris`, '--base', base.ref, '--sign-key', 'kiln.key']);
    assert.equal(r.code, 0, r.stderr);
    ref = r.stdout.trim();
  });

  test('cosign verify and cosign verify-attestation --type slsaprovenance1 accept the baked digest; the tag names it', async () => {
    assert.match(ref, new RegExp(`^${reg.host}/ml/iris@sha256:[a-f0-9]{64}$`));
    await ok(cosignVerify(ref), 'cosign verify');
    await ok(cosignVerifyAtt(ref), 'cosign verify-attestation');
    await ok(kiln(['verify', ref, '--key', 'kiln.pub', '--attestation'], { env, cwd: work.path }));
    assert.equal(await repo('ml/iris').resolveTag(`v${fixture.version}`), digestOf(ref));
  });

  test('the provenance records the model version, alias, run id, every file by sha256 and the base digest', async () => {
    const st = statementFrom(await ok(cosignVerifyAtt(ref)));
    assert.deepEqual(st.subject, [
      { name: `${reg.host}/ml/iris`, digest: { sha256: digestOf(ref).slice(7) } },
    ]);
    const bd = st.predicate.buildDefinition;
    assert.equal(bd.externalParameters['model'], 'models:/iris@champion');
    assert.equal(bd.externalParameters['alias'], 'champion');
    assert.equal(bd.externalParameters['mlflowTrackingUri'], `${mlflow.url}/`);
    assert.equal(bd.externalParameters['base'], base.ref);
    const deps = new Map(bd.resolvedDependencies.map((d) => [d.name, d]));
    assert.deepEqual(deps.get('mlflow-model-version')?.annotations, {
      trackingUri: `${mlflow.url}/`,
      modelName: 'iris',
      version: fixture.version,
      alias: 'champion',
      runId: fixture.runId,
    });
    assert.equal(deps.get('mlflow-source')?.uri, fixture.source);
    assert.deepEqual(deps.get('base-image')?.digest, { sha256: base.digest.slice(7) });
    for (const f of fixture.files) {
      assert.deepEqual(deps.get(f.path)?.digest, { sha256: f.sha256 }, `file ${f.path}`);
    }
  });

  test('no secret reaches the registry: not the MLflow token, basic-auth user or password, nor the key', async () => {
    const { att } = tagsFor(digestOf(ref));
    const m = JSON.parse((await repo('ml/iris').getManifest(att)).bytes.toString()) as {
      layers: { digest: Digest; size: number; mediaType: string }[];
    };
    let attBytes = '';
    for (const l of m.layers) attBytes += (await repo('ml/iris').readBlob(l)).toString();
    const statement = Buffer.from((JSON.parse(attBytes) as { payload: string }).payload, 'base64').toString();
    for (const s of [MLFLOW_TOKEN, MLFLOW_PW, MLFLOW_USER]) {
      assert.ok(!attBytes.includes(s) && !statement.includes(s), `the attestation contains ${s}`);
    }
    assert.ok(statement.includes(mlflow.url), 'the tracking URI itself is recorded');
    const secrets = [MLFLOW_TOKEN, MLFLOW_PW, ...(await keySecrets(at('kiln.key'), KEY_PW))];
    await assertNoSecrets(secrets, [reg.dir], outputs);
  });

  test('baking again is a no-op: still one signature and one attestation', async () => {
    const r = await bakeRun(['--to', `${reg.host}/ml/iris`, '--base', base.ref, '--sign-key', 'kiln.key']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), ref);
    assert.match(r.stderr, /nothing to do/);
    const t = tagsFor(digestOf(ref));
    assert.equal(await layerCount('ml/iris', t.sig), 1);
    assert.equal(await layerCount('ml/iris', t.att), 1);
  });

  test('a wrong key password fails with exit 2 before anything is pushed, and prints no secret', async () => {
    const r = await bakeRun(
      ['--to', `${reg.host}/ml/iris-wrong`, '--base', base.ref, '--sign-key', 'kiln.key', '--json'],
      {
        COSIGN_PASSWORD: 'not-the-password',
      },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'KEY_PASSWORD_WRONG');
    assert.equal(await repo('ml/iris-wrong').resolveTag(`v${fixture.version}`), undefined);
    await assertNoSecrets(['not-the-password', MLFLOW_PW, MLFLOW_TOKEN], [], [r.stdout, r.stderr]);
  });
});

test('into oci:DIR: index.json tags the .sig/.att, kiln verify accepts the layout, and skopeo carries them to a registry cosign verifies', async () => {
  const dir = at('layout');
  const r = await bakeRun(['--to', `oci:${dir}`, '--base', base.ref, '--sign-key', 'kiln.key']);
  assert.equal(r.code, 0, r.stderr);
  const digest = digestOf(r.stdout.trim());
  const t = tagsFor(digest);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  // Tagged entries; the bundles' referrer manifests are listed untagged (reachable from t.bundles).
  const names = index.manifests
    .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
    .filter(Boolean);
  assert.deepEqual(names.sort(), [t.att, t.sig, t.bundles, `v${fixture.version}`].sort());
  await ok(
    kiln(['verify', `oci:${dir}@${digest}`, '--key', 'kiln.pub', '--attestation'], { env, cwd: work.path }),
  );
  // Baking into the layout again adds no second signature or attestation.
  const again = await bakeRun(['--to', `oci:${dir}`, '--base', base.ref, '--sign-key', 'kiln.key', '--json']);
  assert.equal(again.code, 0, again.stderr);
  const signed = (JSON.parse(again.stdout) as { signed: Record<string, { added: boolean; layers: number }> })
    .signed;
  assert.deepEqual(
    [signed['signature'], signed['attestation']].map((s) => [s?.added, s?.layers]),
    [
      [false, 1],
      [false, 1],
    ],
  );
  await assertNoSecrets([MLFLOW_TOKEN, MLFLOW_PW, ...(await keySecrets(at('kiln.key'), KEY_PW))], [dir]);

  await carry(`oci:${dir}`, 'from-layout/iris', `v${fixture.version}`, digest);
  const copied = `${reg.host}/from-layout/iris@${digest}`;
  await ok(cosignVerify(copied), 'cosign verify after skopeo copy');
  const st = statementFrom(await ok(cosignVerifyAtt(copied), 'cosign verify-attestation after skopeo copy'));
  assert.equal(st.subject[0]?.name, 'localhost/iris');
});

test('into oci-archive:FILE: the archive holds the .sig/.att; copied into a registry with skopeo copy --all, cosign verifies', async () => {
  const file = at('iris.tar');
  const r = await bakeRun(['--to', `oci-archive:${file}`, '--base', base.ref, '--sign-key', 'kiln.key']);
  assert.equal(r.code, 0, r.stderr);
  const digest = digestOf(r.stdout.trim());
  const t = tagsFor(digest);
  const { stdout } = await run('tar', ['-xOf', file, 'index.json']);
  const names = (
    JSON.parse(stdout) as { manifests: { annotations?: Record<string, string> }[] }
  ).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
  assert.deepEqual(names.sort(), [t.att, t.sig, t.bundles, `v${fixture.version}`].sort());
  await assertNoSecrets([MLFLOW_TOKEN, MLFLOW_PW, ...(await keySecrets(at('kiln.key'), KEY_PW))], [file]);

  await carry(`oci-archive:${file}`, 'air-gap/iris', `v${fixture.version}`, digest);
  const copied = `${reg.host}/air-gap/iris@${digest}`;
  await ok(cosignVerify(copied), 'cosign verify after the air gap');
  await ok(cosignVerifyAtt(copied), 'cosign verify-attestation after the air gap');
});

test('an image baked without --sign-key is signed and attested afterwards from its own annotations; cosign accepts both', async () => {
  const r = await bakeRun(['--to', `${reg.host}/ml/iris-late`, '--base', base.ref]);
  assert.equal(r.code, 0, r.stderr);
  const ref = r.stdout.trim();
  assert.match((await cosign(verifyArgs(at('kiln.pub'), ref))).stderr, /no signatures found/);
  await ok(kiln(['sign', ref, '--key', 'kiln.key'], { env, cwd: work.path }));
  await ok(kiln(['attest', ref, '--key', 'kiln.key'], { env, cwd: work.path }));
  await ok(cosignVerify(ref));
  const st = statementFrom(await ok(cosignVerifyAtt(ref)));
  const bd = st.predicate.buildDefinition;
  assert.equal(bd.externalParameters['model'], `models:/iris/${fixture.version}`);
  assert.equal(bd.externalParameters['mlflowTrackingUri'], `${mlflow.url}/`);
  const deps = new Map(bd.resolvedDependencies.map((d) => [d.name, d]));
  assert.equal(deps.get('mlflow-model-version')?.annotations?.['runId'], fixture.runId);
  assert.deepEqual(deps.get('base-image'), { name: 'base-image', digest: { sha256: base.digest.slice(7) } });
  for (const f of fixture.files) assert.deepEqual(deps.get(f.path)?.digest, { sha256: f.sha256 }, f.path);
  const text = JSON.stringify(st);
  for (const s of [MLFLOW_TOKEN, MLFLOW_PW, MLFLOW_USER]) assert.ok(!text.includes(s), `leaks ${s}`);
});
