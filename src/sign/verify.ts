// `kiln verify` as cosign v3 decides it (cmd/cosign/cli/verify/verify.go): look for Sigstore
// bundles among the image's referrers first; when there is at least one, only bundles count (for
// the signature AND the attestations, exactly like cosign v3, so a registry view that cosign
// v3 would refuse is not accepted by kiln either); with none, the classic `.sig`/`.att` tags.
// `format` narrows that: `bundle` or `classic` checks one format only, `both` requires each
// (catches an image that lost one half of a dual write).
import type { Digest } from '../oci/digest.ts';
import type { ImageSource } from '../oci/store.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from './bundle.ts';
import { readBundles } from './bundle-store.ts';
import type { VerifyKey } from './keys.ts';
import type { SignatureFormat } from './sign-formats.ts';
import type { Statement } from './statement.ts';
import { verifyFoundBundles } from './verify-bundles.ts';
import { verifyImageAttestations, verifyImageSignatures } from './verify-image.ts';

export type VerifyFormat = 'auto' | SignatureFormat;

export interface FormatVerdict {
  format: 'bundle' | 'classic';
  /** For bundles: how the referrers were found; for classic: the tag read. */
  where: string;
  verified: number;
  /** Bundles (of this kind) or classic layers looked at. */
  of: number;
  statements: Statement[];
}

export interface ImageVerdict {
  signature: FormatVerdict[];
  attestation?: FormatVerdict[] | undefined;
}

export async function verifyImage(
  source: ImageSource,
  digest: Digest,
  key: VerifyKey,
  opts: { format: VerifyFormat; predicateType?: string | undefined },
): Promise<ImageVerdict> {
  const found = opts.format === 'classic' ? undefined : await readBundles(source, digest);
  const useBundle =
    opts.format === 'bundle' ||
    opts.format === 'both' ||
    (opts.format === 'auto' && found!.bundles.length > 0);
  const useClassic =
    opts.format === 'classic' || opts.format === 'both' || (opts.format === 'auto' && !useBundle);
  const bundleVerdict = (type: string): FormatVerdict => {
    const v = verifyFoundBundles(source, digest, key, found!, type);
    return {
      format: 'bundle',
      where: v.via,
      verified: v.statements.length,
      of: v.candidates,
      statements: v.statements,
    };
  };
  const signature: FormatVerdict[] = [];
  if (useBundle) signature.push(bundleVerdict(COSIGN_SIGN_PREDICATE_TYPE));
  if (useClassic) {
    const s = await verifyImageSignatures(source, digest, key);
    signature.push({
      format: 'classic',
      where: s.tag,
      verified: s.verified.length,
      of: s.layers,
      statements: [],
    });
  }
  if (opts.predicateType === undefined) return { signature };
  const attestation: FormatVerdict[] = [];
  if (useBundle) attestation.push(bundleVerdict(opts.predicateType));
  if (useClassic) {
    const a = await verifyImageAttestations(source, digest, key, opts.predicateType);
    attestation.push({
      format: 'classic',
      where: a.tag,
      verified: a.statements.length,
      of: a.layers,
      statements: a.statements,
    });
  }
  return { signature, attestation };
}
