// Every signature and attestation of an image, in every format it carries, verified with one
// key: the classic `.sig`/`.att` tags when present, the Sigstore bundles when present, and each
// attestation predicate type found (provenance, scan results...). Used on the archive before
// anything is pushed and on the new registry before import reports success. An image with no
// signature at all is refused: an air-gap import exists to carry trusted images.
import type { Digest } from '../oci/digest.ts';
import type { ImageSource } from '../oci/store.ts';
import { readCosignStore } from '../sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/bundle.ts';
import { readBundles } from '../sign/bundle-store.ts';
import { attestationTag, PREDICATE_TYPE_ANNOTATION, signatureTag } from '../sign/cosign-layers.ts';
import type { VerifyKey } from '../sign/keys.ts';
import { verifyImage } from '../sign/verify.ts';

export interface VerifiedAll {
  /** Formats whose signature verified: `bundle`, `classic`. */
  signature: string[];
  /** `<format> <predicateType>` for each attestation that verified. */
  attestations: string[];
}

export async function verifyEverything(
  source: ImageSource,
  digest: Digest,
  key: VerifyKey,
): Promise<VerifiedAll> {
  const bundles = (await readBundles(source, digest)).bundles;
  const hasClassic = (await readCosignStore(source, signatureTag(digest))) !== undefined;
  const format = bundles.length > 0 && hasClassic ? 'both' : bundles.length > 0 ? 'bundle' : 'classic';
  const sig = await verifyImage(source, digest, key, { format });
  const out: VerifiedAll = { signature: sig.signature.map((v) => v.format), attestations: [] };
  const bundleTypes = new Set(
    bundles.map((b) => b.predicateType).filter((t): t is string => !!t && t !== COSIGN_SIGN_PREDICATE_TYPE),
  );
  const att = await readCosignStore(source, attestationTag(digest));
  const classicTypes = new Set(
    (att?.layers ?? [])
      .map((l) => l.annotations?.[PREDICATE_TYPE_ANNOTATION])
      .filter((t): t is string => !!t),
  );
  for (const [types, f] of [
    [bundleTypes, 'bundle'],
    [classicTypes, 'classic'],
  ] as const) {
    for (const predicateType of types) {
      await verifyImage(source, digest, key, { format: f, predicateType });
      out.attestations.push(`${f} ${predicateType}`);
    }
  }
  return out;
}
