// Sigstore bundles v0.3 as kiln writes them: exactly the protobuf schema's fields (cosign v3
// parses them with strict protojson), cosign's key hint, a DSSE signature over PAE, and a
// verifier that refuses any altered byte, another key, and a message-signature bundle.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import {
  BUNDLE_V03_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  keyHint,
  signatureStatement,
  signBundle,
  verifyBundle,
} from '../../src/sign/bundle.ts';
import { bundleReferrer } from '../../src/sign/bundle-store.ts';
import { IN_TOTO_PAYLOAD_TYPE, pae } from '../../src/sign/dsse.ts';
import { generateKeyPair } from '../../src/sign/keygen.ts';
import { parsePrivateKey, parsePublicKey, type SigningKey, type VerifyKey } from '../../src/sign/keys.ts';
import { verifyBytes } from '../../src/sign/signer.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
let key: SigningKey;
let pub: VerifyKey;
let other: VerifyKey;
before(async () => {
  const pair = await generateKeyPair('pw');
  key = await parsePrivateKey(pair.privatePem, 'kiln.key', 'pw');
  pub = parsePublicKey(pair.publicPem, 'kiln.pub');
  other = parsePublicKey((await generateKeyPair('x')).publicPem, 'other.pub');
});

const keys = (o: object): string[] => Object.keys(o).sort();

describe('signBundle', () => {
  test('writes only fields of the v0.3 protobuf schema, with cosign`s hint and no DSSE keyid (cosign v3 skips a keyid it does not derive itself)', () => {
    const stmt = signatureStatement(DIGEST);
    const doc = JSON.parse(signBundle(key, stmt).toString()) as Record<string, Record<string, unknown>>;
    assert.deepEqual(keys(doc), ['dsseEnvelope', 'mediaType', 'verificationMaterial']);
    assert.equal(doc['mediaType'], BUNDLE_V03_MEDIA_TYPE);
    const vm = doc['verificationMaterial']!;
    assert.deepEqual(keys(vm), ['publicKey', 'timestampVerificationData']);
    const der = pub.publicKey.export({ format: 'der', type: 'spki' });
    const hint = createHash('sha256').update(der).digest('base64');
    assert.deepEqual(vm['publicKey'], { hint });
    assert.equal(keyHint(pub), hint);
    const env = doc['dsseEnvelope'] as {
      payload: string;
      payloadType: string;
      signatures: { sig: string; keyid?: string }[];
    };
    assert.deepEqual(keys(env), ['payload', 'payloadType', 'signatures']);
    assert.equal(env.payloadType, IN_TOTO_PAYLOAD_TYPE);
    assert.equal(env.signatures.length, 1);
    assert.deepEqual(keys(env.signatures[0]!), ['sig']);
    const body = Buffer.from(env.payload, 'base64');
    assert.ok(body.equals(stmt));
    assert.ok(
      verifyBytes(pub, pae(IN_TOTO_PAYLOAD_TYPE, body), Buffer.from(env.signatures[0]!.sig, 'base64')),
    );
  });

  test('the signature statement is cosign v3`s: subject digest only, predicate sign/v1, empty predicate', () => {
    assert.deepEqual(JSON.parse(signatureStatement(DIGEST).toString()), {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    });
  });
});

describe('verifyBundle', () => {
  test('returns the signed statement for the right key', () => {
    const stmt = signatureStatement(DIGEST);
    assert.ok(verifyBundle(pub, signBundle(key, stmt)).equals(stmt));
  });

  test('another key, an altered payload and an altered signature are SIGNATURE_INVALID', () => {
    const bytes = signBundle(key, signatureStatement(DIGEST));
    assert.throws(
      () => verifyBundle(other, bytes),
      (e) => isKilnError(e, 'SIGNATURE_INVALID') && e.kind === 'policy',
    );
    const doc = JSON.parse(bytes.toString());
    const payload = Buffer.from(doc.dsseEnvelope.payload, 'base64').toString().replace('ab', 'cd');
    doc.dsseEnvelope.payload = Buffer.from(payload).toString('base64');
    assert.throws(
      () => verifyBundle(pub, Buffer.from(JSON.stringify(doc))),
      (e) => isKilnError(e, 'SIGNATURE_INVALID'),
    );
    const doc2 = JSON.parse(bytes.toString());
    const sig = Buffer.from(doc2.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 1]! ^= 1;
    doc2.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    assert.throws(
      () => verifyBundle(pub, Buffer.from(JSON.stringify(doc2))),
      (e) => isKilnError(e, 'SIGNATURE_INVALID'),
    );
  });

  test('not JSON, not v0.3, or a message signature is BUNDLE_INVALID', () => {
    assert.throws(
      () => verifyBundle(pub, Buffer.from('nope')),
      (e) => isKilnError(e, 'BUNDLE_INVALID'),
    );
    const doc = JSON.parse(signBundle(key, signatureStatement(DIGEST)).toString());
    doc.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
    assert.throws(
      () => verifyBundle(pub, Buffer.from(JSON.stringify(doc))),
      (e) => isKilnError(e, 'BUNDLE_INVALID'),
    );
    const msg = {
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: keyHint(pub) } },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: Buffer.alloc(32).toString('base64') },
        signature: Buffer.alloc(8).toString('base64'),
      },
    };
    assert.throws(
      () => verifyBundle(pub, Buffer.from(JSON.stringify(msg))),
      (e) => isKilnError(e, 'BUNDLE_INVALID'),
    );
  });
});

describe('bundleReferrer', () => {
  test('is cosign v3`s referrer manifest: bundle artifactType, empty config, one layer, subject, annotations', () => {
    const bundle = signBundle(key, signatureStatement(DIGEST));
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: DIGEST as `sha256:${string}`,
      size: 123,
    };
    const r = bundleReferrer(
      bundle,
      subject,
      COSIGN_SIGN_PREDICATE_TYPE,
      new Date('2026-01-02T03:04:05.678Z'),
    );
    const m = JSON.parse(r.manifest.bytes.toString());
    assert.equal(m.artifactType, BUNDLE_V03_MEDIA_TYPE);
    assert.deepEqual(m.config, {
      mediaType: 'application/vnd.oci.empty.v1+json',
      size: 2,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      artifactType: BUNDLE_V03_MEDIA_TYPE,
    });
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0].mediaType, BUNDLE_V03_MEDIA_TYPE);
    assert.equal(m.layers[0].size, bundle.length);
    assert.deepEqual(m.subject, subject);
    assert.deepEqual(m.annotations, {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
      'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
    });
    assert.equal(r.descriptor.digest, r.manifest.digest);
    assert.equal(r.descriptor.artifactType, BUNDLE_V03_MEDIA_TYPE);
  });
});
