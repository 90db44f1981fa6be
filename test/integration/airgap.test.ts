// kiln export / kiln import across an air gap, for real: a two-platform image signed in both
// formats on Debian's docker-registry, exported to one file; the source registry is then
// STOPPED, and the archive is imported into a registry with the referrers API (nothing else
// reachable: no source registry, no MLflow). cosign v3 and v2 and kiln verify it there, and the
// rewritten InferenceService is accepted by a real API server with KServe's CRD. Altered, cut
// and other-key archives are refused naming the object, before anything is tagged.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { type Digest, sha256Digest } from '../../src/oci/digest.ts';
import { scanTar } from '../../src/oci/layout/tar-scan.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { Registry } from '../../src/oci/remote/client.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import type { Descriptor } from '../../src/oci/types.ts';
import { kiln, kilnEnv } from '../rig/cli.ts';
import {
  cosign3In,
  cosignIn,
  emptyTrustedRoot,
  ok,
  type Ran,
  verifyArgs,
  verifyAttestationArgs,
} from '../rig/cosign.ts';
import { type KubeRig, kubeRequest, startKube } from '../rig/kube.ts';
import { tempDir } from '../rig/proc.ts';
import { type RegistryRig, startReferrersRegistry, startRegistry } from '../rig/registry.ts';

const PW = 'airgap-Pw-8812';
const PREDICATE = { buildDefinition: { buildType: 'https://kiln.dev/build-types/test/v1' }, runDetails: {} };
let source: RegistryRig;
let dest: RegistryRig;
let spare: RegistryRig;
let kube: KubeRig;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let image: string;
let digest: Digest;
let layerDigests: Digest[];
const at = (f: string): string => join(work.path, f);
const run = (args: string[]): Promise<Ran> => kiln(args, { env, cwd: work.path });

/** A two-platform OCI index with kiln's annotations, as kiln bake writes them, tagged v7. */
async function pushKilnImage(host: string): Promise<{ ref: string; digest: Digest; layers: Digest[] }> {
  const repo = new RegistryRepository(new Registry(host), 'ml/iris');
  const annotations = {
    'dev.kiln.mlflow.model': 'iris',
    'dev.kiln.mlflow.version': '7',
    'dev.kiln.mode': 'baked',
  };
  const children: Descriptor[] = [];
  const layers: Digest[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const layer = await repo.putBlob(randomBytes(4096), MT.ociLayer);
    layers.push(layer.digest);
    const cfg = await repo.putBlob(
      Buffer.from(
        JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
      ),
      MT.ociConfig,
    );
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: cfg,
        layers: [layer],
        annotations,
      }),
    );
    const d = sha256Digest(bytes);
    await repo.putManifest({ bytes, mediaType: MT.ociManifest, digest: d });
    children.push({
      mediaType: MT.ociManifest,
      digest: d,
      size: bytes.length,
      platform: { architecture, os: 'linux' },
    });
  }
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: children, annotations }),
  );
  const d = sha256Digest(bytes);
  await repo.putManifest({ bytes, mediaType: MT.ociIndex, digest: d }, 'v7');
  return { ref: `${host}/ml/iris:v7@${d}`, digest: d, layers };
}

before(async () => {
  [source, dest, spare, kube, work] = await Promise.all([
    startRegistry(),
    startReferrersRegistry(),
    startRegistry(),
    startKube(),
    tempDir('airgap'),
  ]);
  env = kilnEnv({ DOCKER_CONFIG: at('docker'), HOME: work.path, COSIGN_PASSWORD: PW });
  await ok(run(['keygen', '--output-key-prefix', 'kiln']));
  await ok(run(['keygen', '--output-key-prefix', 'other']));
  const img = await pushKilnImage(source.host);
  [image, digest, layerDigests] = [img.ref, img.digest, img.layers];
  const pinned = `${source.host}/ml/iris@${digest}`;
  await ok(run(['sign', pinned, '--key', 'kiln.key']), 'kiln sign');
  await writeFile(at('predicate.json'), JSON.stringify(PREDICATE));
  await ok(run(['attest', pinned, '--key', 'kiln.key', '--predicate', 'predicate.json']), 'kiln attest');
});

after(async () => {
  await Promise.all([source, dest, spare, kube].map((s) => s?.stop()));
  await work?.remove();
});

describe('export, then import on the other side of the gap', () => {
  test('export writes one archive; with the source registry gone, import verifies, pushes, and everything verifies there', async () => {
    const e = await ok(
      run(['export', image, '--to', 'air.tar', '--namespace', 'prod', '--json']),
      'kiln export',
    );
    const exported = JSON.parse(e.stdout) as { indexDigest: string; bytes: number };
    assert.match(exported.indexDigest, /^sha256:/);
    await source.stop(); // the gap: only the archive crosses it

    const i = await ok(
      run(['import', 'air.tar', '--to', `${dest.host}/airgap`, '--key', 'kiln.pub', '--manifests', 'deploy']),
    );
    const moved = `${dest.host}/airgap/ml/iris@${digest}`;
    assert.equal(i.stdout.trim(), moved);
    // Same digest, both platforms, the tag written, both signature formats verify with three verifiers.
    const repo = new RegistryRepository(new Registry(dest.host), 'airgap/ml/iris');
    assert.equal(await repo.resolveTag('v7'), digest);
    const index = JSON.parse((await repo.getManifest(digest)).bytes.toString()) as {
      manifests: Descriptor[];
    };
    for (const c of index.manifests) await repo.getManifest(c.digest);
    for (const l of layerDigests) assert.ok(await repo.hasBlob(l), `layer ${l}`);
    const cosign3 = cosign3In(work.path);
    const cosign = cosignIn(work.path);
    await ok(cosign3(verifyArgs(at('kiln.pub'), moved)), 'cosign v3 verify');
    await ok(cosign3(verifyAttestationArgs(at('kiln.pub'), moved)), 'cosign v3 verify-attestation');
    // cosign v2.6.3+ reads the bundles too once they exist, and offline it wants a trusted root
    // for that: an empty one does for a key (docs/signing.md).
    const root = await emptyTrustedRoot(work.path);
    await ok(cosign(verifyArgs(at('kiln.pub'), moved, ['--trusted-root', root])), 'cosign v2 verify');
    await ok(
      run(['verify', moved, '--key', 'kiln.pub', '--attestation', '--signature-format', 'both']),
      'kiln verify',
    );

    // The InferenceService, rewritten to the new registry, is accepted by KServe's schema.
    const yaml = await readFile(at('deploy/prod/iris.yaml'), 'utf8');
    const isvc = parse(yaml) as { spec: { predictor: { containers: { image: string }[] } } };
    assert.equal(isvc.spec.predictor.containers[0]?.image, moved);
    assert.ok(!yaml.includes(source.host), 'no reference to the source registry is left');
    const res = await kubeRequest(
      kube.server,
      kube.tls,
      'PATCH',
      '/apis/serving.kserve.io/v1beta1/namespaces/prod/inferenceservices/iris?fieldManager=kiln-test&force=true',
      JSON.stringify(isvc),
      'application/apply-patch+yaml',
    );
    assert.ok(res.status === 200 || res.status === 201, `apply: ${res.status} ${res.text}`);
  });

  test('importing the same archive again is a no-op that succeeds', async () => {
    await ok(
      run(['import', 'air.tar', '--to', `${dest.host}/airgap`, '--key', 'kiln.pub', '--manifests', 'deploy']),
    );
  });
});

describe('refused archives leave nothing behind', () => {
  const nothingIn = async (reg: RegistryRig) => {
    const repo = new RegistryRepository(new Registry(reg.host), 'airgap/ml/iris');
    assert.equal(await repo.resolveTag('v7'), undefined, 'no tag');
    assert.equal(await repo.registry.headManifest(repo.repo, digest), undefined, 'no image manifest');
  };
  const refused = async (file: string, key: string, exit: number, code: string, names: string) => {
    const r = await run(['import', file, '--to', `${spare.host}/airgap`, '--key', key, '--json']);
    assert.equal(r.code, exit, `${r.stderr}\n${r.stdout}`);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, code, r.stderr);
    assert.ok(err.message.includes(names), `the error names ${names}: ${err.message}`);
    await nothingIn(spare);
  };

  test('another key: exit 3, SIGNATURE_INVALID, nothing pushed', async () => {
    await refused('air.tar', 'other.pub', 3, 'SIGNATURE_INVALID', digest);
  });

  test('an altered layer byte: ARCHIVE_CORRUPT naming the layer, no manifest or tag', async () => {
    await copyFile(at('air.tar'), at('altered.tar'));
    const fh = await open(at('altered.tar'), 'r+');
    const toc = await scanTar(fh);
    const entry = toc.entries.get(`blobs/sha256/${layerDigests[1]!.slice(7)}`)!;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, entry.offset + 100);
    b[0]! ^= 0xff;
    await fh.write(b, 0, 1, entry.offset + 100);
    await fh.close();
    await refused('altered.tar', 'kiln.pub', 2, 'ARCHIVE_CORRUPT', layerDigests[1]!);
  });

  test('a cut archive: ARCHIVE_TRUNCATED naming what is missing', async () => {
    await copyFile(at('air.tar'), at('cut.tar'));
    const fh = await open(at('cut.tar'), 'r');
    const toc = await scanTar(fh);
    await fh.close();
    const entry = toc.entries.get(`blobs/sha256/${layerDigests[0]!.slice(7)}`)!;
    await truncate(at('cut.tar'), entry.offset + 10);
    await refused('cut.tar', 'kiln.pub', 2, 'ARCHIVE_TRUNCATED', 'kiln-export.json');
  });
});
