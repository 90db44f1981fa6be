// DSSE envelopes: the PAE test vectors of the spec's reference implementation
// (go-securesystemslib dsse/sign_test.go TestPAE), and the envelope cosign v2.6.5 pushed as an
// attestation (test/fixtures/sign/cosign-v2.6.5/att-layer-0.raw).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import {
  IN_TOTO_PAYLOAD_TYPE,
  pae,
  parseDsse,
  serializeDsse,
  signDsse,
  verifyDsse,
} from '../../src/sign/dsse.ts';
import { generateKeyPair } from '../../src/sign/keygen.ts';
import { parsePrivateKey, parsePublicKey, type SigningKey, type VerifyKey } from '../../src/sign/keys.ts';
import { checkStatement } from '../../src/sign/statement.ts';
import { REPO_ROOT } from '../rig/proc.ts';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'sign', 'cosign-v2.6.5');
const cosignEnvelope = readFileSync(join(FIX, 'att-layer-0.raw'));
const cosignPub = parsePublicKey(readFileSync(join(FIX, 'cosign.pub')), 'cosign.pub');
const IMAGE_DIGEST = 'sha256:644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628';
const SLSA1 = 'https://slsa.dev/provenance/v1';

let key: SigningKey;
let pub: VerifyKey;
before(async () => {
  const pair = await generateKeyPair('pw');
  key = await parsePrivateKey(pair.privatePem, 'kiln.key', 'pw');
  pub = parsePublicKey(pair.publicPem, 'kiln.pub');
});

describe('PAE', () => {
  test('matches the reference implementation`s vectors (lengths are byte counts)', () => {
    assert.equal(pae('', Buffer.alloc(0)).toString(), 'DSSEv1 0  0 ');
    assert.equal(
      pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
    assert.equal(
      pae('http://example.com/HelloWorld', Buffer.from('ಠ')).toString(),
      'DSSEv1 29 http://example.com/HelloWorld 3 ಠ',
    );
  });
});

describe('envelopes', () => {
  test('the attestation cosign pushed verifies with cosign.pub and names the image digest', () => {
    const body = verifyDsse(cosignPub, parseDsse(cosignEnvelope));
    const st = checkStatement(body, IMAGE_DIGEST, SLSA1);
    assert.equal(st._type, 'https://in-toto.io/Statement/v0.1'); // cosign attest still writes v0.1
  });

  test('kiln`s envelope has cosign`s shape: payloadType, std-base64 payload, one signature with keyid ""', () => {
    const env = signDsse(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from('{"a":1}'));
    const bytes = serializeDsse(env);
    assert.match(
      bytes.toString(),
      /^\{"payloadType":"application\/vnd.in-toto\+json","payload":"eyJhIjoxfQ==","signatures":\[\{"keyid":"","sig":"[A-Za-z0-9+/=]+"\}\]\}$/,
    );
    assert.deepEqual(verifyDsse(pub, parseDsse(bytes)), Buffer.from('{"a":1}'));
  });

  test('a changed payload, payload type or key fails with a specific code (exit 3)', () => {
    const env = signDsse(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from('{"a":1}'));
    const isCode = (code: string) => (e: unknown) => isKilnError(e, code) && e.exitCode === 3;
    assert.throws(
      () => verifyDsse(pub, { ...env, payload: Buffer.from('{"a":2}').toString('base64') }),
      isCode('SIGNATURE_INVALID'),
    );
    assert.throws(() => verifyDsse(cosignPub, env), isCode('SIGNATURE_INVALID'));
    assert.throws(() => verifyDsse(pub, { ...env, payloadType: 'text/plain' }), isCode('DSSE_INVALID'));
    assert.throws(() => verifyDsse(pub, { ...env, signatures: [] }), isCode('DSSE_INVALID'));
    assert.throws(() => verifyDsse(pub, { ...env, payload: 'not base64!' }), isCode('DSSE_INVALID'));
    assert.throws(() => parseDsse(Buffer.from('nope')), isCode('DSSE_INVALID'));
  });

  test('the payload type is signed too: the same body under another type does not verify', () => {
    const env = signDsse(key, 'application/x-other', Buffer.from('{"a":1}'));
    assert.throws(
      () => verifyDsse(pub, { ...env, payloadType: IN_TOTO_PAYLOAD_TYPE }),
      (e: unknown) => isKilnError(e, 'SIGNATURE_INVALID'),
    );
  });

  test('one good signature among others is enough, as in go-securesystemslib', () => {
    const env = signDsse(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from('{}'));
    const mixed = { ...env, signatures: [{ keyid: 'x', sig: 'AAAA' }, ...env.signatures] };
    assert.deepEqual(verifyDsse(pub, mixed), Buffer.from('{}'));
  });
});
