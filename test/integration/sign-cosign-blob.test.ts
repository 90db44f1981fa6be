// Interop with the REAL cosign (v2.6.5, built by `scripts/setup go`) at blob level, no registry:
// keys both ways, signatures both ways, the simple-signing payload byte-for-byte against
// `cosign generate`, and DSSE attestations against `cosign attest-blob` /
// `cosign verify-blob-attestation`. Tampering must fail in kiln AND in cosign.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { IN_TOTO_PAYLOAD_TYPE, parseDsse, serializeDsse, signDsse, verifyDsse } from '../../src/sign/dsse.ts';
import { loadPrivateKey, loadPublicKey, type SigningKey } from '../../src/sign/keys.ts';
import { provenancePayload, SLSA_PROVENANCE_V1 } from '../../src/sign/provenance.ts';
import { signBytes, verifyBytes } from '../../src/sign/signer.ts';
import {
  signSimpleSigning,
  simpleSigningPayload,
  verifySimpleSigning,
} from '../../src/sign/simplesigning.ts';
import { checkStatement } from '../../src/sign/statement.ts';
import { COSIGN, exec, type Ran } from '../rig/cosign.ts';
import { REPO_ROOT, tempDir } from '../rig/proc.ts';

const KILN_PW = 'kiln-Pw-4417';
const COSIGN_PW = 'cosign-Pw-9083';

let dir: { path: string; remove: () => Promise<void> };
const at = (name: string): string => join(dir.path, name);
/** cosign with its own home (no stray config, no cache outside the temp dir). */
const cosign = (args: string[], password = COSIGN_PW): Promise<Ran> =>
  exec(
    COSIGN,
    args,
    { PATH: process.env['PATH'], HOME: dir.path, COSIGN_PASSWORD: password, TUF_ROOT: at('tuf') },
    dir.path,
  );
const kiln = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  exec(
    process.execPath,
    [join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    { PATH: process.env['PATH'], HOME: dir.path, ...env },
    dir.path,
  );

async function ok(r: Promise<Ran>): Promise<Ran> {
  const out = await r;
  assert.equal(out.code, 0, `expected success, got ${out.code}:\n${out.stderr}\n${out.stdout}`);
  return out;
}
async function fails(r: Promise<Ran>): Promise<Ran> {
  const out = await r;
  assert.notEqual(out.code, 0, `expected a failure, got success:\n${out.stderr}\n${out.stdout}`);
  return out;
}
const verifyBlob = (pub: string, sig: string, blob: string): Promise<Ran> =>
  cosign(['verify-blob', '--key', pub, '--insecure-ignore-tlog=true', '--signature', sig, blob]);
const signBlob = (key: string, out: string, blob: string, password?: string): Promise<Ran> =>
  cosign(
    ['sign-blob', '--key', key, '--tlog-upload=false', '--yes', '--output-signature', out, blob],
    password,
  );

let kilnKey: SigningKey;
let cosignKey: SigningKey;

before(async () => {
  assert.ok(existsSync(COSIGN), `cosign not built at ${COSIGN}: run scripts/setup go`);
  dir = await tempDir('sign-cosign');
  await ok(kiln(['keygen', '--output-key-prefix', 'kiln'], { COSIGN_PASSWORD: KILN_PW }));
  await ok(cosign(['generate-key-pair', '--output-key-prefix', 'cosign']));
  kilnKey = await loadPrivateKey(at('kiln.key'), KILN_PW);
  cosignKey = await loadPrivateKey(at('cosign.key'), COSIGN_PW);
  await writeFile(at('blob'), 'the bytes of a model manifest\n');
});
after(() => dir?.remove());

describe('keys and blob signatures, both ways', () => {
  test('a key from `kiln keygen` signs in `cosign sign-blob`; cosign and kiln both verify with kiln.pub', async () => {
    await ok(signBlob(at('kiln.key'), at('blob.cosign-with-kiln-key.sig'), at('blob'), KILN_PW));
    await ok(verifyBlob(at('kiln.pub'), at('blob.cosign-with-kiln-key.sig'), at('blob')));
    const sig = Buffer.from((await readFile(at('blob.cosign-with-kiln-key.sig'), 'utf8')).trim(), 'base64');
    assert.equal(verifyBytes(await loadPublicKey(at('kiln.pub')), await readFile(at('blob')), sig), true);
  });

  test('a signature kiln makes over a blob is accepted by `cosign verify-blob --key kiln.pub`', async () => {
    await writeFile(at('blob.kiln.sig'), signBytes(kilnKey, await readFile(at('blob'))).toString('base64'));
    await ok(verifyBlob(at('kiln.pub'), at('blob.kiln.sig'), at('blob')));
  });

  test('a key from `cosign generate-key-pair` (scrypt N=2^16) loads in kiln, and what kiln signs with it cosign accepts', async () => {
    await writeFile(
      at('blob.kiln-with-cosign-key.sig'),
      signBytes(cosignKey, await readFile(at('blob'))).toString('base64'),
    );
    await ok(verifyBlob(at('cosign.pub'), at('blob.kiln-with-cosign-key.sig'), at('blob')));
  });

  test('kiln verifies a signature made by `cosign sign-blob`', async () => {
    await ok(signBlob(at('cosign.key'), at('blob.cosign.sig'), at('blob')));
    const sig = Buffer.from((await readFile(at('blob.cosign.sig'), 'utf8')).trim(), 'base64');
    assert.equal(verifyBytes(await loadPublicKey(at('cosign.pub')), await readFile(at('blob')), sig), true);
  });
});

describe('failures are caught, specifically, by kiln and by cosign', () => {
  test('wrong password: kiln says KEY_PASSWORD_WRONG for both key formats; cosign also refuses', async () => {
    for (const k of ['kiln.key', 'cosign.key']) {
      await assert.rejects(loadPrivateKey(at(k), 'wrong'), (e: unknown) =>
        isKilnError(e, 'KEY_PASSWORD_WRONG'),
      );
    }
    const c = await fails(signBlob(at('kiln.key'), at('never.sig'), at('blob'), 'wrong'));
    assert.match(c.stderr, /decrypt/);
  });

  test('a corrupted key file: kiln says KEY_INVALID naming it; cosign fails too', async () => {
    const pem = await readFile(at('kiln.key'), 'utf8');
    const lines = pem.split('\n');
    lines[2] = `${lines[2]?.slice(0, 10)}#${lines[2]?.slice(11)}`;
    await writeFile(at('corrupt.key'), lines.join('\n'));
    await assert.rejects(
      loadPrivateKey(at('corrupt.key'), KILN_PW),
      (e: unknown) => isKilnError(e, 'KEY_INVALID') && e.message.includes(at('corrupt.key')),
    );
    await fails(signBlob(at('corrupt.key'), at('never.sig'), at('blob'), KILN_PW));
  });

  test('the wrong public key: kiln SIGNATURE_INVALID, cosign verify-blob fails', async () => {
    const payload = simpleSigningPayload({
      dockerReference: 'r.example/m',
      digest: `sha256:${'c'.repeat(64)}`,
    });
    const s = signSimpleSigning(kilnKey, {
      dockerReference: 'r.example/m',
      digest: `sha256:${'c'.repeat(64)}`,
    });
    assert.throws(
      () =>
        verifySimpleSigning(
          { source: 'cosign.pub', publicKey: cosignKey.publicKey },
          s,
          `sha256:${'c'.repeat(64)}`,
        ),
      (e: unknown) => isKilnError(e, 'SIGNATURE_INVALID'),
    );
    await writeFile(at('p.json'), payload);
    await writeFile(at('p.sig'), s.signature);
    await ok(verifyBlob(at('kiln.pub'), at('p.sig'), at('p.json')));
    await fails(verifyBlob(at('cosign.pub'), at('p.sig'), at('p.json')));
  });

  test('a flipped byte in a signed payload: kiln SIGNATURE_INVALID, cosign verify-blob fails', async () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    const s = signSimpleSigning(kilnKey, { dockerReference: 'r.example/m', digest });
    const flipped = Buffer.from(s.payload);
    flipped[20] = (flipped[20] ?? 0) ^ 0x01;
    assert.throws(
      () => verifySimpleSigning(loadedPub(), { payload: flipped, signature: s.signature }, digest),
      (e: unknown) => isKilnError(e, 'SIGNATURE_INVALID'),
    );
    await writeFile(at('flipped.json'), flipped);
    await writeFile(at('flipped.sig'), s.signature);
    await fails(verifyBlob(at('kiln.pub'), at('flipped.sig'), at('flipped.json')));
  });
});

const loadedPub = () => ({ source: 'kiln.pub', publicKey: kilnKey.publicKey });

describe('simple-signing payload', () => {
  const digest = 'sha256:644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628';
  const cases: { ref: string; repo: string; annotations?: Record<string, string>; args: string[] }[] = [
    { ref: '127.0.0.1:5917/ml/model', repo: '127.0.0.1:5917/ml/model', args: [] },
    {
      ref: 'ghcr.io/team/risk',
      repo: 'ghcr.io/team/risk',
      annotations: { z: '1', a: '<b>&q' },
      args: ['-a', 'z=1', '-a', 'a=<b>&q'],
    },
    { ref: 'busybox', repo: 'index.docker.io/library/busybox', args: [] },
  ];
  for (const c of cases) {
    test(`kiln's bytes equal \`cosign generate ${c.ref}@...${c.args.join(' ')}\`, and cosign verifies kiln's signature over them`, async () => {
      const out = await ok(cosign(['generate', `${c.ref}@${digest}`, ...c.args]));
      const s = signSimpleSigning(kilnKey, { dockerReference: c.repo, digest, annotations: c.annotations });
      assert.equal(s.payload.toString(), out.stdout);
      await writeFile(at('gen.json'), s.payload);
      await writeFile(at('gen.sig'), s.signature);
      await ok(verifyBlob(at('kiln.pub'), at('gen.sig'), at('gen.json')));
    });
  }
});

describe('DSSE attestations', () => {
  // verify-blob-attestation checks the statement's subject against sha256(artifact): the artifact
  // stands in for the image manifest, whose digest is the image digest.
  const artifact = Buffer.from('{"schemaVersion":2,"pretend":"image manifest"}');
  const digest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;
  const provenance = () =>
    provenancePayload({
      image: { name: '127.0.0.1:5000/ml/risk', digest },
      modelUri: 'models:/risk@champion',
      mlflow: {
        trackingUri: 'http://127.0.0.1:5000',
        modelName: 'risk',
        version: '3',
        alias: 'champion',
        runId: 'r1',
        sourceUri: 'models:/m-1',
      },
      files: [{ path: 'model.pkl', sha256: 'e'.repeat(64) }],
      build: { target: '127.0.0.1:5000/ml/risk', mode: 'baked', compression: 'gzip' },
      invocationId: 'i-1',
      startedOn: new Date(0),
      finishedOn: new Date(1000),
    });
  const verifyAtt = (pub: string, env: string, art: string): Promise<Ran> =>
    cosign([
      'verify-blob-attestation',
      '--key',
      pub,
      '--signature',
      env,
      '--type',
      'slsaprovenance1',
      '--insecure-ignore-tlog=true',
      art,
    ]);

  test('kiln`s SLSA v1 provenance envelope passes `cosign verify-blob-attestation --type slsaprovenance1`', async () => {
    await writeFile(at('artifact'), artifact);
    await writeFile(at('att.json'), serializeDsse(signDsse(kilnKey, IN_TOTO_PAYLOAD_TYPE, provenance())));
    const r = await ok(verifyAtt(at('kiln.pub'), at('att.json'), at('artifact')));
    assert.match(r.stderr, /Verified OK/);
  });

  test('a changed statement, another subject or the wrong key fail in cosign and in kiln', async () => {
    await writeFile(at('artifact'), artifact);
    const env = signDsse(kilnKey, IN_TOTO_PAYLOAD_TYPE, provenance());
    const body = Buffer.from(env.payload, 'base64').toString().replace('"version":"3"', '"version":"4"');
    const tampered = { ...env, payload: Buffer.from(body).toString('base64') };
    await writeFile(at('tampered.json'), serializeDsse(tampered));
    await fails(verifyAtt(at('kiln.pub'), at('tampered.json'), at('artifact')));
    assert.throws(
      () => verifyDsse(loadedPub(), tampered),
      (e: unknown) => isKilnError(e, 'SIGNATURE_INVALID'),
    );

    await writeFile(at('att.json'), serializeDsse(env));
    await writeFile(at('other-artifact'), 'another image');
    const c = await fails(verifyAtt(at('kiln.pub'), at('att.json'), at('other-artifact')));
    assert.match(c.stderr, /no matching subject digest/);
    assert.throws(
      () => checkStatement(verifyDsse(loadedPub(), env), `sha256:${'0'.repeat(64)}`, SLSA_PROVENANCE_V1),
      (e: unknown) => isKilnError(e, 'ATTESTATION_SUBJECT_MISMATCH'),
    );
    await fails(verifyAtt(at('cosign.pub'), at('att.json'), at('artifact')));
  });

  test('an attestation made by `cosign attest-blob` verifies in kiln', async () => {
    await writeFile(at('artifact'), artifact);
    const predicate = JSON.parse(provenance().toString()).predicate;
    await writeFile(at('predicate.json'), JSON.stringify(predicate));
    await ok(
      cosign([
        'attest-blob',
        '--key',
        at('cosign.key'),
        '--predicate',
        at('predicate.json'),
        '--type',
        'slsaprovenance1',
        '--tlog-upload=false',
        '--yes',
        '--output-signature',
        at('cosign-att.json'),
        at('artifact'),
      ]),
    );
    const body = verifyDsse(
      await loadPublicKey(at('cosign.pub')),
      parseDsse(await readFile(at('cosign-att.json'))),
    );
    const st = checkStatement(body, digest, SLSA_PROVENANCE_V1);
    // cosign re-marshals the predicate through in-toto-golang's SLSA v1 structs: buildDefinition
    // survives intact, runDetails.metadata comes back as `invocationID` with second-precision times.
    const got = st.predicate as typeof predicate;
    assert.deepEqual(got.buildDefinition, predicate.buildDefinition);
    assert.deepEqual(got.runDetails.builder, predicate.runDetails.builder);
  });
});
