// `cosign verify --key K --insecure-ignore-tlog` / `cosign verify-attestation` on the bundle path
// (cosign v3 pkg/cosign/verify.go GetBundles + verifyImageBundle), with two checks cosign v3
// leaves out (GHSA-w6c6-c85g-mmv6 shows why they matter):
// - a signature must be a `https://sigstore.dev/cosign/sign/v1` statement: cosign v3's `verify`
//   accepts ANY bundle the key signed about the digest, so an SBOM or provenance attestation
//   passes as a "signature" there; kiln does not count it as one;
// - an attestation must have the predicate type asked for.
// As in cosign, the image is verified when at least one bundle verifies; the others (other
// keys, damaged ones) do not make it fail, but their reasons are kept for the error.
import { isKilnError, KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageSource } from '../oci/store.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, verifyBundle } from './bundle.ts';
import type { FoundBundles, StoredBundle } from './bundle-store.ts';
import type { VerifyKey } from './keys.ts';
import { checkStatement, type Statement } from './statement.ts';

export interface VerifiedBundles {
  /** Where the referrers were listed: the registry's API or the `sha256-<hex>` fallback tag. */
  via: 'api' | 'tag' | 'none';
  /** Referrer manifests of the verified bundles. */
  manifests: Digest[];
  statements: Statement[];
  /** Bundles of the wanted predicate type that were looked at. */
  candidates: number;
}

interface Rejected {
  manifest: Digest;
  code: string;
  message: string;
}

/** Verify the bundles of `predicateType` among `found`; SIGNATURE_* codes for signatures, ATTESTATION_* else. */
export function verifyFoundBundles(
  source: ImageSource,
  digest: Digest,
  key: VerifyKey,
  found: FoundBundles,
  predicateType: string,
): VerifiedBundles {
  const image = `${source.name}@${digest}`;
  const isSig = predicateType === COSIGN_SIGN_PREDICATE_TYPE;
  const what = isSig ? 'signature' : `${predicateType} attestation`;
  // The annotation is a hint only (a bundle without it is still checked, its statement decides).
  const candidates = found.bundles.filter(
    (b) => b.predicateType === undefined || b.predicateType === predicateType,
  );
  const statements: Statement[] = [];
  const manifests: Digest[] = [];
  const reasons: Rejected[] = [];
  let wrongType = 0;
  for (const b of candidates) {
    try {
      statements.push(check(b, key, digest, predicateType));
      manifests.push(b.manifest);
    } catch (e) {
      if (!isKilnError(e) || e.kind !== 'policy') throw e;
      if (e.code === 'ATTESTATION_PREDICATE_MISMATCH') wrongType++;
      else reasons.push({ manifest: b.manifest, code: e.code, message: e.message });
    }
  }
  if (statements.length > 0) return { via: found.via, manifests, statements, candidates: candidates.length };
  const details = { via: found.via, bundles: found.bundles.length, reasons };
  if (candidates.length === wrongType) {
    throw new KilnError(
      isSig ? 'SIGNATURE_MISSING' : 'ATTESTATION_MISSING',
      `${image} has ${found.bundles.length} Sigstore bundle(s) but no ${what} bundle`,
      {
        kind: 'policy',
        hint: isSig
          ? 'sign it: kiln sign IMAGE@DIGEST --key cosign.key (bundles exist, so cosign v3 and kiln ignore the classic .sig tag)'
          : 'attest it: kiln attest IMAGE@DIGEST --key cosign.key (bundles exist, so cosign v3 and kiln ignore the classic .att tag)',
        details,
      },
    );
  }
  const mismatch = reasons.find((r) => r.code === 'ATTESTATION_SUBJECT_MISMATCH');
  const code = isSig ? (mismatch ? 'SIGNATURE_DIGEST_MISMATCH' : 'SIGNATURE_INVALID') : 'ATTESTATION_INVALID';
  throw new KilnError(
    code,
    `${image}: none of its ${candidates.length - wrongType} ${what} bundle(s) verifies with ${key.source} (${reasons.map((r) => r.code).join(', ')})`,
    {
      kind: 'policy',
      hint: mismatch
        ? `the bundle signs another image; a ${what} copied from another image proves nothing about this one`
        : 'it was signed with another key, altered, or is about another image; check --key, or sign again',
      details,
    },
  );
}

function check(b: StoredBundle, key: VerifyKey, digest: Digest, predicateType: string): Statement {
  const body = verifyBundle(key, b.bytes);
  return checkStatement(body, digest, predicateType);
}
