// The simple-signing payload, byte-for-byte against what cosign v2.6.5 pushed
// (test/fixtures/sign/cosign-v2.6.5), and signing/verifying it like `cosign verify` does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { generateKeyPair } from '../../src/sign/keygen.ts';
import { parsePrivateKey, parsePublicKey, type SigningKey, type VerifyKey } from '../../src/sign/keys.ts';
import { signBytes } from '../../src/sign/signer.ts';
import {
  cosignDockerReference,
  parseSimpleSigningPayload,
  signSimpleSigning,
  simpleSigningPayload,
  verifySimpleSigning,
} from '../../src/sign/simplesigning.ts';
import { REPO_ROOT } from '../rig/proc.ts';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'sign', 'cosign-v2.6.5');
const fixture = (name: string): Buffer => readFileSync(join(FIX, name));
const IMAGE_DIGEST = 'sha256:644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628';
const OTHER_DIGEST = `sha256:${'ab'.repeat(32)}`;
const cosignManifest = JSON.parse(fixture('sig-manifest.raw').toString()) as {
  layers: { annotations: Record<string, string> }[];
};
const cosignSig = (i: number): string =>
  cosignManifest.layers[i]?.annotations['dev.cosignproject.cosign/signature'] ?? '';
const cosignPub = parsePublicKey(fixture('cosign.pub'), 'cosign.pub');

let key: SigningKey;
let pub: VerifyKey;
before(async () => {
  const pair = await generateKeyPair('pw');
  key = await parsePrivateKey(pair.privatePem, 'kiln.key', 'pw');
  pub = parsePublicKey(pair.publicPem, 'kiln.pub');
});

function expectCode(code: string, fn: () => unknown): void {
  assert.throws(
    fn,
    (e: unknown) => isKilnError(e, code) && e.exitCode === (code === 'DIGEST_INVALID' ? 2 : 3),
  );
}

describe('payload bytes', () => {
  test('without annotations: identical to the payload cosign signed (optional is null)', () => {
    const payload = simpleSigningPayload({
      dockerReference: '127.0.0.1:5917/ml/model',
      digest: IMAGE_DIGEST,
    });
    assert.deepEqual(payload, fixture('sig-layer-0.raw'));
  });

  test('with annotations (cosign sign -a team=ml): identical to cosign`s bytes', () => {
    const payload = simpleSigningPayload({
      dockerReference: '127.0.0.1:5917/ml/model',
      digest: IMAGE_DIGEST,
      annotations: { team: 'ml' },
    });
    assert.deepEqual(payload, fixture('sig-layer-1.raw'));
  });

  test('annotations are written like Go: keys sorted, <>& escaped (as `cosign generate -a` prints)', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'ghcr.io/a/b',
      digest: IMAGE_DIGEST,
      annotations: { z: '1', a: '<b>&' },
    });
    assert.match(payload.toString(), /"optional":\{"a":"\\u003cb\\u003e\\u0026","z":"1"\}\}$/);
  });

  test('docker-reference is the repository as go-containerregistry names it', () => {
    // Observed with `cosign generate REF@DIGEST` (v2.6.5).
    assert.equal(cosignDockerReference('foo'), 'index.docker.io/library/foo');
    assert.equal(cosignDockerReference('docker.io/x/y'), 'index.docker.io/x/y');
    assert.equal(cosignDockerReference('docker.io/foo'), 'index.docker.io/library/foo');
    assert.equal(cosignDockerReference('ghcr.io/a/b'), 'ghcr.io/a/b');
    assert.equal(cosignDockerReference('127.0.0.1:5917/ml/model'), '127.0.0.1:5917/ml/model');
    assert.equal(cosignDockerReference('team/model'), 'index.docker.io/team/model');
  });

  test('a tag instead of a digest is refused (DIGEST_INVALID, exit 2)', () => {
    expectCode('DIGEST_INVALID', () => simpleSigningPayload({ dockerReference: 'r/x', digest: 'latest' }));
    expectCode('DIGEST_INVALID', () =>
      simpleSigningPayload({ dockerReference: 'r/x', digest: 'sha256:ABC' }),
    );
  });

  test('parsing gives the claim back', () => {
    const claim = parseSimpleSigningPayload(fixture('sig-layer-1.raw'));
    assert.deepEqual(claim, {
      dockerReference: '127.0.0.1:5917/ml/model',
      digest: IMAGE_DIGEST,
      annotations: { team: 'ml' },
    });
  });
});

describe('verifying', () => {
  test('both signatures cosign made over the fixture payloads verify with cosign.pub', () => {
    for (const i of [0, 1]) {
      const claim = verifySimpleSigning(
        cosignPub,
        { payload: fixture(`sig-layer-${i}.raw`), signature: cosignSig(i) },
        IMAGE_DIGEST,
      );
      assert.equal(claim.digest, IMAGE_DIGEST);
    }
  });

  test('kiln`s own signature round-trips and is DER (starts with an ASN.1 SEQUENCE)', () => {
    const s = signSimpleSigning(key, { dockerReference: 'r.example/m', digest: IMAGE_DIGEST });
    assert.equal(Buffer.from(s.signature, 'base64')[0], 0x30);
    assert.equal(verifySimpleSigning(pub, s, IMAGE_DIGEST).dockerReference, 'r.example/m');
  });

  test('a flipped byte in the payload: SIGNATURE_INVALID (exit 3)', () => {
    const payload = Buffer.from(fixture('sig-layer-0.raw'));
    payload[payload.length - 10] = (payload[payload.length - 10] ?? 0) ^ 1;
    expectCode('SIGNATURE_INVALID', () =>
      verifySimpleSigning(cosignPub, { payload, signature: cosignSig(0) }, IMAGE_DIGEST),
    );
  });

  test('the wrong public key: SIGNATURE_INVALID naming the key', () => {
    assert.throws(
      () =>
        verifySimpleSigning(
          pub,
          { payload: fixture('sig-layer-0.raw'), signature: cosignSig(0) },
          IMAGE_DIGEST,
        ),
      (e: unknown) => isKilnError(e, 'SIGNATURE_INVALID') && e.message.includes('kiln.pub'),
    );
  });

  test('a signature for another digest: SIGNATURE_DIGEST_MISMATCH, though the signature itself is valid', () => {
    assert.throws(
      () =>
        verifySimpleSigning(
          cosignPub,
          { payload: fixture('sig-layer-0.raw'), signature: cosignSig(0) },
          OTHER_DIGEST,
        ),
      (e: unknown) => isKilnError(e, 'SIGNATURE_DIGEST_MISMATCH') && e.message.includes(OTHER_DIGEST),
    );
  });

  test('garbage signatures and payloads of another type are refused, not crashed on', () => {
    const payload = fixture('sig-layer-0.raw');
    expectCode('SIGNATURE_INVALID', () =>
      verifySimpleSigning(cosignPub, { payload, signature: '%%%' }, IMAGE_DIGEST),
    );
    expectCode('SIGNATURE_INVALID', () =>
      verifySimpleSigning(cosignPub, { payload, signature: '' }, IMAGE_DIGEST),
    );
    const foreign = Buffer.from('{"critical":{"type":"atomic container signature"}}');
    // validly signed by the key, but not a cosign payload
    const s = { payload: foreign, signature: signBytes(key, foreign).toString('base64') };
    expectCode('SIGNATURE_PAYLOAD_INVALID', () => verifySimpleSigning(pub, s, IMAGE_DIGEST));
  });
});
