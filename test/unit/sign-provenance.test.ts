// The SLSA provenance v1 statement kiln attests, and the rule that no credential in any input
// URI reaches it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import {
  DEFAULT_BUILDER_ID,
  KILN_BUILD_TYPE,
  type ProvenanceInput,
  provenancePayload,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
} from '../../src/sign/provenance.ts';
import { redactUri } from '../../src/sign/redact.ts';
import { checkStatement } from '../../src/sign/statement.ts';
import { KILN_VERSION } from '../../src/version.ts';

const IMAGE = `sha256:${'1'.repeat(64)}`;
const BASE = `sha256:${'2'.repeat(64)}`;
const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function input(over: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return {
    image: { name: 'registry.example.com/ml/risk', digest: IMAGE },
    modelUri: 'models:/risk@champion',
    mlflow: {
      trackingUri: 'https://mlflow.example.com',
      modelName: 'risk',
      version: '7',
      alias: 'champion',
      runId: '0123abcd',
      sourceUri: 'models:/m-42',
    },
    files: [
      { path: 'model.pkl', sha256: H2 },
      { path: 'MLmodel', sha256: `sha256:${H1}` },
    ],
    build: {
      target: 'registry.example.com/ml/risk',
      mode: 'baked',
      compression: 'zstd',
      base: { ref: 'python:3.12-slim', digest: BASE },
    },
    invocationId: 'inv-1',
    startedOn: '2025-01-02T03:04:05Z',
    finishedOn: new Date('2025-01-02T03:05:00Z'),
    ...over,
  };
}

describe('provenance statement', () => {
  test('is an in-toto v1 statement about the image digest with an SLSA v1 predicate', () => {
    const st = provenanceStatement(input());
    assert.equal(st._type, 'https://in-toto.io/Statement/v1');
    assert.equal(st.predicateType, SLSA_PROVENANCE_V1);
    assert.deepEqual(st.subject, [
      { name: 'registry.example.com/ml/risk', digest: { sha256: '1'.repeat(64) } },
    ]);
    checkStatement(provenancePayload(input()), IMAGE, SLSA_PROVENANCE_V1);
  });

  test('records build parameters, kiln`s version, builder and timing', () => {
    const { buildDefinition: bd, runDetails: rd } = provenanceStatement(input()).predicate;
    assert.equal(bd.buildType, KILN_BUILD_TYPE);
    assert.deepEqual(bd.externalParameters, {
      model: 'models:/risk@champion',
      alias: 'champion',
      mlflowTrackingUri: 'https://mlflow.example.com',
      target: 'registry.example.com/ml/risk',
      mode: 'baked',
      compression: 'zstd',
      base: 'python:3.12-slim',
    });
    assert.deepEqual(bd.internalParameters, { kilnVersion: KILN_VERSION });
    assert.deepEqual(rd, {
      builder: { id: DEFAULT_BUILDER_ID, version: { kiln: KILN_VERSION } },
      metadata: {
        invocationId: 'inv-1',
        startedOn: '2025-01-02T03:04:05.000Z',
        finishedOn: '2025-01-02T03:05:00.000Z',
      },
    });
  });

  test('resolved dependencies: the model version (name, version, alias, run id), its source, the base digest, every file by sha256', () => {
    const deps = provenanceStatement(input()).predicate.buildDefinition.resolvedDependencies;
    assert.deepEqual(deps, [
      {
        uri: 'models:/risk/7',
        name: 'mlflow-model-version',
        annotations: {
          trackingUri: 'https://mlflow.example.com',
          modelName: 'risk',
          version: '7',
          alias: 'champion',
          runId: '0123abcd',
        },
      },
      { uri: 'models:/m-42', name: 'mlflow-source' },
      { uri: `python:3.12-slim@${BASE}`, name: 'base-image', digest: { sha256: '2'.repeat(64) } },
      { uri: 'models:/m-42/MLmodel', name: 'MLmodel', digest: { sha256: H1 } },
      { uri: 'models:/m-42/model.pkl', name: 'model.pkl', digest: { sha256: H2 } },
    ]);
  });

  test('a file hash that is not sha256 hex is refused rather than recorded', () => {
    assert.throws(
      () => provenanceStatement(input({ files: [{ path: 'x', sha256: 'md5:abc' }] })),
      (e: unknown) => isKilnError(e, 'DIGEST_INVALID'),
    );
  });

  test('no credential from any input URI appears anywhere in the signed payload', () => {
    const secrets = ['alice', 's3cr3t-pw', 'tok-9f8e7d', 'AKIAEXAMPLE', 'presign-sig-123', 'sas-sig-456'];
    const text = provenancePayload(
      input({
        modelUri: 'models:/risk@champion',
        mlflow: {
          trackingUri: 'https://alice:s3cr3t-pw@mlflow.example.com:5000/?token=tok-9f8e7d&workspace=ml',
          modelName: 'risk',
          version: '7',
          sourceUri: 's3://bucket/m-42?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=presign-sig-123',
        },
        build: {
          target: 'https://alice:s3cr3t-pw@registry.example.com/ml/risk',
          mode: 'modelcar',
          compression: 'gzip',
          base: { ref: 'base.example.com/py?sig=sas-sig-456', digest: BASE },
        },
      }),
    ).toString();
    for (const s of secrets) assert.ok(!text.includes(s), `provenance leaks ${s}`);
    // ...while what is not secret survives.
    assert.ok(text.includes('https://mlflow.example.com:5000/?workspace=ml'));
    assert.ok(text.includes('s3://bucket/m-42/model.pkl'));
  });
});

test('values in the environment (MLflow and cosign secrets) are never read into it', () => {
  const env = {
    MLFLOW_TRACKING_TOKEN: 'env-tok-5521',
    MLFLOW_TRACKING_PASSWORD: 'env-pw-8812',
    COSIGN_PASSWORD: 'env-cos-3307',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const text = provenancePayload(input()).toString();
    for (const v of Object.values(env)) assert.ok(!text.includes(v), `provenance leaks ${v}`);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

describe('redactUri', () => {
  const cases: [string, string][] = [
    [
      'https://alice:pw@mlflow.example.com/?token=t&workspace=ml#x',
      'https://mlflow.example.com/?workspace=ml',
    ],
    ['http://tok@h:5000/', 'http://h:5000/'],
    ['https://h/p?api_key=1&a=2&SIG=3&X-Amz-Security-Token=4', 'https://h/p?a=2'],
    ['https://mlflow.example.com', 'https://mlflow.example.com'],
    ['models:/risk@champion', 'models:/risk@champion'],
    ['runs:/abc/model', 'runs:/abc/model'],
    ['databricks', 'databricks'],
    ['not a url?password=x', 'not a url'],
    ['custom://u:p@host/x', 'custom://host/x'],
  ];
  for (const [from, to] of cases) {
    test(`${from} -> ${to}`, () => assert.equal(redactUri(from), to));
  }
});

describe('checking statements', () => {
  const body = provenancePayload(input());
  test('another subject digest: ATTESTATION_SUBJECT_MISMATCH (exit 3)', () => {
    assert.throws(
      () => checkStatement(body, `sha256:${'9'.repeat(64)}`, SLSA_PROVENANCE_V1),
      (e: unknown) => isKilnError(e, 'ATTESTATION_SUBJECT_MISMATCH') && e.exitCode === 3,
    );
  });
  test('another predicate type: ATTESTATION_PREDICATE_MISMATCH', () => {
    assert.throws(
      () => checkStatement(body, IMAGE, 'https://slsa.dev/provenance/v0.2'),
      (e: unknown) => isKilnError(e, 'ATTESTATION_PREDICATE_MISMATCH'),
    );
  });
  test('not a statement: ATTESTATION_INVALID', () => {
    assert.throws(
      () => checkStatement(Buffer.from('{"x":1}'), IMAGE, SLSA_PROVENANCE_V1),
      (e: unknown) => isKilnError(e, 'ATTESTATION_INVALID'),
    );
  });
});
