// Sigstore bundles v0.3 (protobuf-specs `sigstore_bundle.proto`; JSON = protojson) holding one
// DSSE envelope signed with a plain key, no transparency log and no timestamp: what `cosign sign
// --key` and `cosign attest --key` write since cosign v3 (cmd/cosign/cli/signcommon/common.go
// NewAttestationBundle -> sigstore-go sign.Bundle with a DSSEData content).
//
// Why @sigstore/bundle and @sigstore/verify (sigstore-js, maintained by the Sigstore project)
// and not a hand-written JSON builder and checker: cosign parses the bundle with strict protojson
// (an unknown field is an error), and the library's serializer is generated from the same
// protobuf schema, so kiln cannot emit a field the schema lacks; its verifier checks the DSSE
// signature, the key and the bundle's structure (exactly one signature, v0.3 rules) the way the
// other Sigstore clients do. Neither checks what the statement is ABOUT (sigstore-js has no
// in-toto subject check), so statement.ts stays kiln's own.
// @sigstore/sign is not used: its DSSEBundleBuilder wants an async Signer and witnesses, while
// toDSSEBundle is the same JSON from bytes kiln signs itself (signer.ts: ECDSA P-256, DER).
import { createHash } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, toDSSEBundle } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { KilnError } from '../errors.ts';
import { IN_TOTO_PAYLOAD_TYPE, pae } from './dsse.ts';
import type { SigningKey, VerifyKey } from './keys.ts';
import { signBytes } from './signer.ts';

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** cosign v3's image signature: an in-toto statement of this type (pkg/types/predicate.go). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

/**
 * The key hint cosign writes: standard base64 of SHA-256 over the PKIX (SPKI DER) public key
 * (cosign internal/key/svkeypair.go). Verifiers ignore it (the key is given out of band).
 */
export function keyHint(key: VerifyKey): string {
  const der = key.publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('base64');
}

/**
 * A v0.3 bundle's JSON bytes: DSSE(in-toto statement) signed by `key`, the key hint in
 * verificationMaterial and an EMPTY DSSE keyid, as cosign v3 / sigstore-go write it
 * (pkg/sign/content.go). Not keyid = hint as sigstore-js writes: cosign v3.1.2's DSSE verifier
 * (go-securesystemslib) skips a signature whose keyid differs from the id it derives from the
 * key, so such a bundle fails there with "accepted signatures do not match threshold".
 */
export function signBundle(key: SigningKey, statement: Uint8Array): Buffer {
  const artifact = Buffer.from(statement);
  const bundle = toDSSEBundle({
    artifact,
    artifactType: IN_TOTO_PAYLOAD_TYPE,
    signature: signBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, artifact)),
    keyHint: keyHint(key),
  });
  for (const s of bundle.content.dsseEnvelope.signatures) s.keyid = '';
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}

function bundleInvalid(problem: string, cause?: unknown): KilnError {
  return new KilnError('BUNDLE_INVALID', `Sigstore bundle ${problem}`, {
    kind: 'policy',
    hint: 'the bundle was not written by cosign or kiln, or was altered',
    cause,
  });
}

/**
 * Verify a bundle's DSSE signature with `key` (no transparency log, no timestamps: a keyed,
 * offline signature, like `cosign verify --key K --insecure-ignore-tlog`); returns the signed
 * statement bytes. The hint inside the bundle is ignored, as cosign ignores it.
 */
export function verifyBundle(key: VerifyKey, bytes: Uint8Array): Buffer {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bundleInvalid('is not JSON');
  }
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    throw bundleInvalid(`does not follow the bundle schema (${(e as Error).message})`, e);
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw bundleInvalid(`is ${JSON.stringify(bundle.mediaType)}, kiln and cosign v3 read v0.3 bundles`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw bundleInvalid('holds a message signature, not a DSSE envelope (cosign requires DSSE for images)');
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw bundleInvalid(
      `has payloadType ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  const trust = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: key.publicKey, validFor: () => true }));
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  try {
    verifier.verify(toSignedEntity(bundle));
  } catch (e) {
    throw new KilnError(
      'SIGNATURE_INVALID',
      `bundle signature does not verify with public key ${key.source}`,
      {
        kind: 'policy',
        hint: 'the bundle was altered, or it was signed by a different key',
        details: { key: key.source, reason: (e as { code?: string }).code ?? (e as Error).message },
      },
    );
  }
  return Buffer.from(envelope.payload);
}

/** No Fulcio, no Rekor, no TSA: a trusted root with nothing in it, the key comes from the finder. */
const EMPTY_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/** cosign v3's signature statement: subject = the digest (plus `-a` annotations), predicate {}. */
export function signatureStatement(digest: string, annotations?: Record<string, string>): Buffer {
  const m = /^(sha256):([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new TypeError(`not a sha256 digest: ${digest}`);
  const subject: Record<string, unknown> = { digest: { [m[1]!]: m[2]! } };
  if (annotations && Object.keys(annotations).length > 0) subject['annotations'] = annotations;
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [subject],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    }),
  );
}
