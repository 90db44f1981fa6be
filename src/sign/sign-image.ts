// `cosign sign --key` and `cosign attest --key` for an image already stored by digest, written
// through an ImageTarget. Both are idempotent the way a re-run pipeline needs:
// - a signature is not appended when the same key already signed the same payload (cosign's
//   dupe detector, pkg/cosign/remote/remote.go: same payload digest and media type, and the
//   existing signature verifies with the signing key);
// - an attestation is not appended when this key already attested an identical statement, or,
//   with `once`, any statement of this predicate type about this digest (a no-op re-bake built
//   nothing new, so the provenance recorded when the image was built stays the only one).
import { KilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageTarget } from '../oci/store.ts';
import { type AttachResult, appendCosignLayer, readCosignLayer } from './attach.ts';
import {
  attestationLayer,
  attestationTag,
  type CosignDescriptor,
  DSSE_MEDIA_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureLayer,
  signatureTag,
} from './cosign-layers.ts';
import { IN_TOTO_PAYLOAD_TYPE, parseDsse, serializeDsse, signDsse, verifyDsse } from './dsse.ts';
import type { SigningKey } from './keys.ts';
import { decodeBase64, verifyBytes } from './signer.ts';
import { signSimpleSigning } from './simplesigning.ts';
import { checkStatement } from './statement.ts';

export interface SignImageOptions {
  digest: Digest;
  key: SigningKey;
  /** critical.identity.docker-reference: the repository in cosign's spelling (cosignDockerReference). */
  dockerReference: string;
  /** cosign's `-a key=value` (the payload's `optional`). */
  annotations?: Record<string, string> | undefined;
  log?: Logger;
}

export function signImage(target: ImageTarget, opts: SignImageOptions): Promise<AttachResult> {
  const sig = signSimpleSigning(opts.key, {
    dockerReference: opts.dockerReference,
    digest: opts.digest,
    annotations: opts.annotations,
  });
  const layer = signatureLayer(sig.payload, sig.signature);
  return appendCosignLayer(target, {
    tag: signatureTag(opts.digest),
    layer,
    log: opts.log,
    isDuplicate: async (l) => {
      if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || l.digest !== layer.descriptor.digest) return false;
      const der = decodeBase64(l.annotations?.[SIGNATURE_ANNOTATION] ?? '');
      return der !== undefined && verifyBytes(opts.key, sig.payload, der);
    },
  });
}

export interface AttestImageOptions {
  digest: Digest;
  key: SigningKey;
  /** The in-toto statement's exact bytes (its subject must be `digest`). */
  statement: Buffer;
  predicateType: string;
  /** Skip when this key already attested ANY statement of `predicateType` about `digest`. */
  once?: boolean;
  log?: Logger;
}

export function attestImage(target: ImageTarget, opts: AttestImageOptions): Promise<AttachResult> {
  // Refuse to sign a statement about another image: the subject check cosign will make later.
  checkStatement(opts.statement, opts.digest, opts.predicateType);
  const envelope = serializeDsse(signDsse(opts.key, IN_TOTO_PAYLOAD_TYPE, opts.statement));
  return appendCosignLayer(target, {
    tag: attestationTag(opts.digest),
    layer: attestationLayer(envelope, opts.predicateType),
    log: opts.log,
    isDuplicate: async (l) => {
      const body = await ownStatement(target, l, opts);
      return body !== undefined && (opts.once === true || body.equals(opts.statement));
    },
  });
}

/** The statement in layer `l` when it is this key's attestation of `predicateType` about `digest`. */
async function ownStatement(
  target: ImageTarget,
  l: CosignDescriptor,
  opts: AttestImageOptions,
): Promise<Buffer | undefined> {
  if (l.mediaType !== DSSE_MEDIA_TYPE) return undefined;
  const type = l.annotations?.[PREDICATE_TYPE_ANNOTATION];
  if (type !== undefined && type !== opts.predicateType) return undefined;
  try {
    const body = verifyDsse(opts.key, parseDsse(await readCosignLayer(target, l)));
    checkStatement(body, opts.digest, opts.predicateType);
    return body;
  } catch (e) {
    // Someone else's or a damaged attestation is not ours: keep it, and add ours.
    if (e instanceof KilnError && e.kind === 'policy') return undefined;
    throw e;
  }
}
