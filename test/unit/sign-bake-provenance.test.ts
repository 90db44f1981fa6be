// The pieces of bake --sign-key that need no server: which name a signature carries per target,
// model paths back from layer paths, and provenance when only the base digest is known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OciLayout } from '../../src/oci/layout/layout.ts';
import { Registry } from '../../src/oci/remote/client.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import type { PushedBake } from '../../src/pipeline/bake.ts';
import { bakeProvenance, modelPaths } from '../../src/pipeline/sign.ts';
import { signedIdentity } from '../../src/pipeline/signable.ts';
import { provenanceStatement } from '../../src/sign/provenance.ts';
import { tempDir } from '../rig/proc.ts';

const D = `sha256:${'1'.repeat(64)}` as const;
const B = `sha256:${'2'.repeat(64)}` as const;

const image: PushedBake = {
  digest: D,
  reference: `r.example/ml/iris@${D}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 500,
  reused: false,
  model: { name: 'iris', version: '3', runId: 'run-1', source: 'models:/m-1' },
  baseDigest: B,
  layer: undefined,
  files: [
    { path: 'mnt/models/model.pkl', size: 1, sha256: 'a'.repeat(64) },
    { path: 'mnt/models/sub/MLmodel', size: 1, sha256: 'b'.repeat(64) },
  ],
  platforms: [],
};

test('a registry target signs as cosign names the repository; a layout as localhost/<model>', async (t) => {
  assert.equal(
    signedIdentity(new RegistryRepository(new Registry('127.0.0.1:5000'), 'ml/iris'), 'x'),
    '127.0.0.1:5000/ml/iris',
  );
  assert.equal(
    signedIdentity(new RegistryRepository(new Registry('docker.io'), 'library/iris'), 'x'),
    'index.docker.io/library/iris',
  );
  const dir = await tempDir('sign-identity');
  t.after(dir.remove);
  const layout = await OciLayout.open(dir.path, { create: true });
  assert.equal(signedIdentity(layout, 'Risk Classifier/v2'), 'localhost/risk-classifier-v2');
  assert.equal(signedIdentity(layout, '__'), 'localhost/image');
});

test('layer paths become model-directory paths for baked and modelcar images', () => {
  assert.deepEqual(
    modelPaths(image.files, 'baked').map((f) => f.path),
    ['model.pkl', 'sub/MLmodel'],
  );
  assert.deepEqual(
    modelPaths([{ path: 'models/model.pkl', size: 1, sha256: 'c'.repeat(64) }], 'modelcar').map(
      (f) => f.path,
    ),
    ['model.pkl'],
  );
});

test('bake provenance: the tracking URI loses its credentials; the base is recorded by name and digest', () => {
  const times = { invocationId: 'i', startedOn: new Date(0), finishedOn: new Date(1) };
  const facts = {
    modelUri: 'models:/iris@champion',
    trackingUri: 'https://u:secret-pw@mlflow.example.com',
    alias: 'champion',
    sourceUri: 'models:/m-1',
    target: 'r.example/ml/iris',
    mode: 'baked' as const,
    compression: 'gzip' as const,
    base: 'r.example/base@' + B,
  };
  const st = provenanceStatement(bakeProvenance(image, 'r.example/ml/iris', facts, times));
  const text = JSON.stringify(st);
  assert.ok(!text.includes('secret-pw'));
  const deps = st.predicate.buildDefinition.resolvedDependencies;
  assert.deepEqual(
    deps.find((d) => d.name === 'base-image'),
    {
      uri: `r.example/base@${B}`,
      name: 'base-image',
      digest: { sha256: '2'.repeat(64) },
    },
  );
  assert.deepEqual(deps.find((d) => d.name === 'sub/MLmodel')?.digest, { sha256: 'b'.repeat(64) });
});

test('when only the base digest is known (attesting afterwards), it is recorded without a made-up name', () => {
  const times = { invocationId: 'i', startedOn: new Date(0), finishedOn: new Date(1) };
  const input = bakeProvenance(
    image,
    'x',
    {
      modelUri: 'models:/iris/3',
      trackingUri: 'unknown',
      alias: undefined,
      sourceUri: 'models:/m-1',
      target: 't',
      mode: 'baked',
      compression: 'gzip',
      base: undefined,
    },
    times,
  );
  input.build.base = { digest: B };
  const bd = provenanceStatement(input).predicate.buildDefinition;
  assert.deepEqual(
    bd.resolvedDependencies.find((d) => d.name === 'base-image'),
    {
      name: 'base-image',
      digest: { sha256: '2'.repeat(64) },
    },
  );
  assert.equal('base' in bd.externalParameters, false);
});
