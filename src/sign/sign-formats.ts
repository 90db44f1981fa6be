// One key, both storage formats (kiln's default): the classic `.sig`/`.att` tags that cosign v2,
// sigstore policy-controller key authorities and Kyverno `type: Cosign` read, and v0.3 Sigstore
// bundles as OCI referrers that cosign v3, Kyverno `SigstoreBundle` and ImageValidatingPolicy
// read. All or nothing per format: cosign v3 stops looking at classic tags once ANY bundle
// exists, so every attestation written classically is also written as a bundle.
import type { Logger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageTarget } from '../oci/store.ts';
import type { Descriptor } from '../oci/types.ts';
import type { AttachResult } from './attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signatureStatement } from './bundle.ts';
import { type AttachedBundles, attachBundles, type BundleStatement } from './bundle-image.ts';
import type { SigningKey } from './keys.ts';
import { attestImage, signImage } from './sign-image.ts';

/** classic = `.sig`/`.att` tags; bundle = Sigstore bundles as referrers; both = each of them. */
export type SignatureFormat = 'classic' | 'bundle' | 'both';
export const SIGNATURE_FORMATS: readonly SignatureFormat[] = ['classic', 'bundle', 'both'];

export const writesClassic = (f: SignatureFormat): boolean => f !== 'bundle';
export const writesBundle = (f: SignatureFormat): boolean => f !== 'classic';

export interface SignRequest {
  /** The image: its descriptor is the referrers' subject. */
  subject: Descriptor;
  key: SigningKey;
  format: SignatureFormat;
  /** Sign the image (a cosign signature); false when only attesting. */
  sign: boolean;
  /** critical.identity.docker-reference of the classic signature. */
  dockerReference: string;
  annotations?: Record<string, string> | undefined;
  /** Attestations of any predicate type (provenance, scan results...), each an in-toto statement. */
  attestations: readonly BundleStatement[];
  log?: Logger;
}

export interface SignOutcome {
  /** The classic signature, when written (format classic or both). */
  signature?: AttachResult;
  /** The classic attestations, in request order. */
  attestations: AttachResult[];
  /** The bundles (signature first when signing), when written (format bundle or both). */
  bundles?: AttachedBundles;
}

export async function signInFormats(target: ImageTarget, req: SignRequest): Promise<SignOutcome> {
  const digest: Digest = req.subject.digest;
  const out: SignOutcome = { attestations: [] };
  if (writesClassic(req.format)) {
    if (req.sign) {
      out.signature = await signImage(target, {
        digest,
        key: req.key,
        dockerReference: req.dockerReference,
        annotations: req.annotations,
        log: req.log,
      });
    }
    for (const a of req.attestations) {
      out.attestations.push(await attestImage(target, { digest, key: req.key, ...a, log: req.log }));
    }
  }
  if (writesBundle(req.format)) {
    const statements: BundleStatement[] = [
      ...(req.sign
        ? [
            {
              statement: signatureStatement(digest, req.annotations),
              predicateType: COSIGN_SIGN_PREDICATE_TYPE,
            },
          ]
        : []),
      ...req.attestations,
    ];
    out.bundles = await attachBundles(target, req.subject, req.key, statements, req.log);
  }
  return out;
}
