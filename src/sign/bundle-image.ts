// `cosign sign --key` / `cosign attest --key` as cosign v3 does them: each statement signed into
// a v0.3 bundle and stored as a referrer of the image (bundle-store.ts). Idempotent like the
// classic path (sign-image.ts): a statement this key already signed about this digest is not
// written again, and with `once` neither is a second statement of the same predicate type (a
// no-op re-bake keeps the provenance recorded when the image was built).
import { isKilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { pushReferrers } from '../oci/referrers.ts';
import type { ImageTarget } from '../oci/store.ts';
import type { Descriptor } from '../oci/types.ts';
import { signBundle, verifyBundle } from './bundle.ts';
import { bundleReferrer, putBundleBlobs, readBundles, type StoredBundle } from './bundle-store.ts';
import type { SigningKey } from './keys.ts';
import { checkStatement } from './statement.ts';

export interface BundleStatement {
  /** The in-toto statement's exact bytes (its subject must be the image). */
  statement: Buffer;
  predicateType: string;
  /** Skip when this key already signed ANY statement of this type about the image. */
  once?: boolean;
}

export interface BundleResult {
  predicateType: string;
  /** The referrer manifest holding the bundle (the existing one when nothing was added). */
  manifest: Digest;
  added: boolean;
}

export interface AttachedBundles {
  /** How the referrers are found: the registry's referrers API, or the `sha256-<hex>` fallback tag. */
  via: 'api' | 'tag';
  tag?: string;
  bundles: BundleResult[];
}

/** Sign `statements` into bundles and attach the new ones to `subject` in one referrers update. */
export async function attachBundles(
  target: ImageTarget,
  subject: Descriptor,
  key: SigningKey,
  statements: readonly BundleStatement[],
  log: Logger = silentLogger,
): Promise<AttachedBundles> {
  // A fresh archive cannot be read back and holds nothing yet.
  const found = await readBundles(target, subject.digest);
  const existing = found.bundles;
  const results: BundleResult[] = [];
  const fresh: { bytes: Buffer; predicateType: string }[] = [];
  for (const s of statements) {
    checkStatement(s.statement, subject.digest, s.predicateType);
    const dup = existing.find((b) => isOwn(b, key, s, subject.digest));
    if (dup) {
      log.info(`${target.name}@${subject.digest} already has this key's ${s.predicateType} bundle`);
      results.push({ predicateType: s.predicateType, manifest: dup.manifest, added: false });
      continue;
    }
    fresh.push({ bytes: signBundle(key, s.statement), predicateType: s.predicateType });
  }
  if (fresh.length === 0) return { via: found.via === 'api' ? 'api' : 'tag', bundles: results };
  await putBundleBlobs(
    target,
    fresh.map((f) => f.bytes),
  );
  const now = new Date();
  const referrers = fresh.map((f) => bundleReferrer(f.bytes, subject, f.predicateType, now));
  const pushed = await pushReferrers(target, subject.digest, referrers, log);
  for (const [i, f] of fresh.entries()) {
    results.push({ predicateType: f.predicateType, manifest: referrers[i]!.manifest.digest, added: true });
  }
  log.info(`wrote ${fresh.length} bundle(s) for ${target.name}@${subject.digest} (referrers ${pushed.via})`);
  return { ...pushed, bundles: results };
}

/** True when `b` is `key`'s bundle about `digest` of the statement (or, with once, the type) wanted. */
function isOwn(b: StoredBundle, key: SigningKey, s: BundleStatement, digest: Digest): boolean {
  if (b.predicateType !== undefined && b.predicateType !== s.predicateType) return false;
  try {
    const body = verifyBundle(key, b.bytes);
    checkStatement(body, digest, s.predicateType);
    return s.once === true || body.equals(s.statement);
  } catch (e) {
    // Someone else's or a damaged bundle is not ours: keep it, and add ours.
    if (isKilnError(e) && e.kind === 'policy') return false;
    throw e;
  }
}
