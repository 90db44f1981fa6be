// `cosign verify --key` / `cosign verify-attestation --key --type` for the classic storage, over
// any ImageSource. As in cosign (pkg/cosign/verify.go VerifyImageSignatures): an image is
// verified when at least ONE layer of its `.sig` image verifies with the key and names the
// image's digest; other layers (other keys, damaged ones) do not make it fail. Every failure is
// kind 'policy' (exit 3) with one code saying why, and the per-layer reasons in details.
import { isKilnError, KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageSource } from '../oci/store.ts';
import { readCosignLayer, readCosignStore } from './attach.ts';
import {
  attestationTag,
  DSSE_MEDIA_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTag,
} from './cosign-layers.ts';
import { parseDsse, verifyDsse } from './dsse.ts';
import type { VerifyKey } from './keys.ts';
import { type SimpleSigningClaim, verifySimpleSigning } from './simplesigning.ts';
import { checkStatement, type Statement } from './statement.ts';

export interface VerifiedSignatures {
  tag: string;
  /** Layers that verified, with their claims. */
  verified: SimpleSigningClaim[];
  /** All layers in the .sig image. */
  layers: number;
}

export interface VerifiedAttestations {
  tag: string;
  statements: Statement[];
  layers: number;
}

interface Rejected {
  layer: number;
  code: string;
  message: string;
}

/** What went wrong with one layer; non-policy failures (network, I/O) propagate. */
function rejected(layer: number, e: unknown): Rejected {
  if (isKilnError(e) && e.kind === 'policy') return { layer, code: e.code, message: e.message };
  throw e;
}

export async function verifyImageSignatures(
  source: ImageSource,
  digest: Digest,
  key: VerifyKey,
): Promise<VerifiedSignatures> {
  const tag = signatureTag(digest);
  const image = `${source.name}@${digest}`;
  const store = await readCosignStore(source, tag);
  if (!store || store.layers.length === 0) {
    throw new KilnError('SIGNATURE_MISSING', `${image} has no signatures (no ${tag} tag)`, {
      kind: 'policy',
      hint: 'sign it: kiln sign IMAGE@DIGEST --key cosign.key (or bake with --sign-key)',
      details: { tag },
    });
  }
  const verified: SimpleSigningClaim[] = [];
  const reasons: Rejected[] = [];
  for (const [i, l] of store.layers.entries()) {
    try {
      if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) throw notA(i, 'simple-signing payload', l.mediaType);
      const signature = l.annotations?.[SIGNATURE_ANNOTATION] ?? '';
      const payload = await readCosignLayer(source, l);
      verified.push(verifySimpleSigning(key, { payload, signature }, digest));
    } catch (e) {
      reasons.push(rejected(i, e));
    }
  }
  if (verified.length === 0) {
    // A signature that is valid for the key but names another digest is the telling case (a
    // .sig copied from another image): report it as such, else the signature is just invalid.
    const mismatch = reasons.find((r) => r.code === 'SIGNATURE_DIGEST_MISMATCH');
    throw new KilnError(
      mismatch ? 'SIGNATURE_DIGEST_MISMATCH' : 'SIGNATURE_INVALID',
      mismatch
        ? `${image}: ${mismatch.message}`
        : `${image}: none of its ${store.layers.length} signature(s) verifies with ${key.source}`,
      {
        kind: 'policy',
        hint: mismatch
          ? 'the .sig tag holds a signature for another image; sign this digest'
          : 'it was signed with another key, or the signature was altered; check --key, or sign again',
        details: { tag, reasons },
      },
    );
  }
  return { tag, verified, layers: store.layers.length };
}

export async function verifyImageAttestations(
  source: ImageSource,
  digest: Digest,
  key: VerifyKey,
  predicateType: string,
): Promise<VerifiedAttestations> {
  const tag = attestationTag(digest);
  const image = `${source.name}@${digest}`;
  const store = await readCosignStore(source, tag);
  // cosign filters on the predicate type; the annotation may be absent on old attestations.
  const candidates = (store?.layers ?? [])
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => {
      const type = l.annotations?.[PREDICATE_TYPE_ANNOTATION];
      return l.mediaType === DSSE_MEDIA_TYPE && (type === undefined || type === predicateType);
    });
  if (candidates.length === 0) {
    throw new KilnError(
      'ATTESTATION_MISSING',
      `${image} has no ${predicateType} attestation${store ? ` (${tag} holds other kinds only)` : ` (no ${tag} tag)`}`,
      {
        kind: 'policy',
        hint: 'attest it: kiln attest IMAGE@DIGEST --key cosign.key (or bake with --sign-key)',
        details: { tag, predicateType },
      },
    );
  }
  const statements: Statement[] = [];
  const reasons: Rejected[] = [];
  for (const { l, i } of candidates) {
    try {
      const body = verifyDsse(key, parseDsse(await readCosignLayer(source, l)));
      statements.push(checkStatement(body, digest, predicateType));
    } catch (e) {
      reasons.push(rejected(i, e));
    }
  }
  if (statements.length === 0) {
    throw new KilnError(
      'ATTESTATION_INVALID',
      `${image}: none of its ${candidates.length} ${predicateType} attestation(s) verifies with ${key.source} (${reasons.map((r) => r.code).join(', ')})`,
      {
        kind: 'policy',
        hint: 'it was attested with another key, altered, or is about another image; check --key, or attest again',
        details: { tag, reasons },
      },
    );
  }
  return { tag, statements, layers: store?.layers.length ?? 0 };
}

function notA(layer: number, what: string, mediaType: string): KilnError {
  return new KilnError('SIGNATURE_INVALID', `layer ${layer} is not a ${what} (${mediaType})`, {
    kind: 'policy',
  });
}
