// cosign's classic signature payload ("simple signing", containers/image
// docs/containers-signature.5.md), byte-for-byte as sigstore/sigstore pkg/signature/payload
// payload.go marshals it with Go's encoding/json:
//   {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},
//    "type":"cosign container image signature"},"optional":null|{sorted annotations}}
// cosign verify checks the signature over the exact layer bytes, then that D equals the image
// digest (pkg/cosign/verifiers.go SimpleClaimVerifier); R is informational.
import { KilnError } from '../errors.ts';
import { GoStruct, goJson } from './gojson.ts';
import type { SigningKey, VerifyKey } from './keys.ts';
import { decodeBase64, signBytes, verifyBytes } from './signer.ts';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export interface SimpleSigningClaim {
  /** Repository as go-containerregistry names it (see `cosignDockerReference`). */
  dockerReference: string;
  /** The signed manifest's digest, `sha256:<hex>`. */
  digest: string;
  /** cosign's `-a key=value` annotations (`optional`); undefined marshals as null like cosign. */
  annotations?: Record<string, unknown> | undefined;
}

export interface SimpleSignature {
  payload: Buffer;
  /** Standard base64 of the DER signature: the `dev.cosignproject.cosign/signature` annotation. */
  signature: string;
}

/**
 * The repository name cosign writes as docker-reference (go-containerregistry name.Repository
 * Name()): a first component with '.' or ':' is the registry, else Docker Hub
 * (`index.docker.io`, `library/` for one-element names); `docker.io` becomes `index.docker.io`.
 */
export function cosignDockerReference(repository: string): string {
  const slash = repository.indexOf('/');
  const first = slash < 0 ? '' : repository.slice(0, slash);
  if (first.includes('.') || first.includes(':')) {
    const rest = repository.slice(slash + 1);
    const hub = first === 'docker.io' || first === 'index.docker.io';
    return hub ? `index.docker.io/${rest.includes('/') ? rest : `library/${rest}`}` : repository;
  }
  return `index.docker.io/${repository.includes('/') ? repository : `library/${repository}`}`;
}

function requireDigest(digest: string): void {
  if (!DIGEST.test(digest)) {
    throw new KilnError('DIGEST_INVALID', `"${digest}" is not a manifest digest (sha256:<64 hex>)`, {
      kind: 'usage',
      hint: 'sign digests, not tags: pass IMAGE@sha256:...',
    });
  }
}

export function simpleSigningPayload(claim: SimpleSigningClaim): Buffer {
  requireDigest(claim.digest);
  const doc = new GoStruct({
    critical: new GoStruct({
      identity: new GoStruct({ 'docker-reference': claim.dockerReference }),
      image: new GoStruct({ 'docker-manifest-digest': claim.digest }),
      type: COSIGN_SIGNATURE_TYPE,
    }),
    optional: claim.annotations ?? null,
  });
  return Buffer.from(goJson(doc));
}

export function signSimpleSigning(key: SigningKey, claim: SimpleSigningClaim): SimpleSignature {
  const payload = simpleSigningPayload(claim);
  return { payload, signature: signBytes(key, payload).toString('base64') };
}

function payloadInvalid(problem: string): KilnError {
  return new KilnError('SIGNATURE_PAYLOAD_INVALID', `signature payload ${problem}`, {
    kind: 'policy',
    hint: 'the .sig layer was not written by cosign or kiln, or was altered',
  });
}

/** Parse payload bytes back into a claim (no signature check: use verifySimpleSigning). */
export function parseSimpleSigningPayload(payload: Uint8Array): SimpleSigningClaim {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw payloadInvalid('is not JSON');
  }
  const crit = (doc as { critical?: Record<string, unknown> } | null)?.critical;
  const type = crit?.['type'];
  if (type !== COSIGN_SIGNATURE_TYPE) {
    throw payloadInvalid(`has type ${JSON.stringify(type ?? null)}, not "${COSIGN_SIGNATURE_TYPE}"`);
  }
  const ref = (crit?.['identity'] as Record<string, unknown> | undefined)?.['docker-reference'];
  const digest = (crit?.['image'] as Record<string, unknown> | undefined)?.['docker-manifest-digest'];
  if (typeof ref !== 'string' || typeof digest !== 'string') {
    throw payloadInvalid('lacks critical.identity.docker-reference or critical.image.docker-manifest-digest');
  }
  const optional = (doc as { optional?: unknown }).optional;
  const annotations =
    optional && typeof optional === 'object' ? (optional as Record<string, unknown>) : undefined;
  return { dockerReference: ref, digest, annotations };
}

/**
 * Verify like cosign: the signature over the exact payload bytes first, then the claim names
 * `expectedDigest`. Failures are kind 'policy' (exit 3) with a code per reason.
 */
export function verifySimpleSigning(
  key: VerifyKey,
  sig: { payload: Uint8Array; signature: string },
  expectedDigest: string,
): SimpleSigningClaim {
  const der = decodeBase64(sig.signature);
  if (!der || !verifyBytes(key, sig.payload, der)) {
    throw new KilnError('SIGNATURE_INVALID', `signature does not verify with public key ${key.source}`, {
      kind: 'policy',
      hint: 'the payload was altered, or it was signed by a different key',
      details: { key: key.source },
    });
  }
  const claim = parseSimpleSigningPayload(sig.payload);
  if (claim.digest !== expectedDigest) {
    throw new KilnError(
      'SIGNATURE_DIGEST_MISMATCH',
      `signature is valid but signs ${claim.digest}, not ${expectedDigest}`,
      {
        kind: 'policy',
        hint: 'a signature copied from another image proves nothing about this one; sign this digest',
        details: { signed: claim.digest, expected: expectedDigest },
      },
    );
  }
  return claim;
}
