// Referrers of an image (OCI image-spec v1.1 `manifest.md` "subject", distribution-spec v1.1
// "Listing Referrers" and "Referrers Tag Schema") over any ImageSource/ImageTarget:
// - a registry with the referrers API lists them itself;
// - everywhere else (registries without the API, OCI layouts, archives) the list is an OCI index
//   stored at the tag `<alg>-<hex>` of the subject digest, which the writer keeps up to date:
//   read it, add the new descriptors, write it back. Like every client of the tag schema
//   (go-containerregistry, oras, notation) this is read-modify-write with no lock: two writers
//   racing on one image can drop each other's entry (registries offer no compare-and-swap).
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { type Digest, digestHex, sha256Digest } from './digest.ts';
import { MT } from './mediatypes.ts';
import { getReferrers, putManifestWithSubject } from './remote/referrers.ts';
import { RegistryRepository } from './remote/repository.ts';
import type { ImageSource, ImageTarget, ManifestBytes } from './store.ts';
import type { Descriptor, Index } from './types.ts';

/** `sha256-<hex>`: the referrers tag schema's tag for `subject` (no `.sig`/`.att` suffix). */
export function referrersTag(subject: Digest): string {
  return `${subject.slice(0, subject.indexOf(':'))}-${digestHex(subject)}`;
}

export interface ReferrerList {
  /** `api`: the registry's referrers endpoint; `tag`: the fallback index; `none`: neither exists. */
  via: 'api' | 'tag' | 'none';
  manifests: Descriptor[];
}

async function tagIndex(source: ImageSource, tag: string): Promise<Index | undefined> {
  let got: ManifestBytes;
  try {
    got = await source.getManifest(tag);
  } catch (e) {
    if (e instanceof KilnError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
    throw e;
  }
  const doc = parseIndex(got.bytes);
  if (!doc) {
    throw new KilnError('REFERRERS_TAG_INVALID', `${source.name}:${tag} is not an OCI index of referrers`, {
      kind: 'policy',
      hint: 'the referrers tag schema reserves this tag for an OCI index; something else wrote it. Delete the tag and sign again',
      details: { tag, digest: got.digest },
    });
  }
  return doc;
}

function parseIndex(bytes: Buffer): Index | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as Index;
    return doc && doc.mediaType === MT.ociIndex && Array.isArray(doc.manifests) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** What refers to `subject`: the registry's API when it has one, else the fallback tag. */
export async function listReferrers(source: ImageSource, subject: Digest): Promise<ReferrerList> {
  if (source instanceof RegistryRepository) {
    const api = await getReferrers(source.registry.transport, source.repo, subject);
    if (api) return { via: 'api', manifests: api.manifests };
  }
  const index = await tagIndex(source, referrersTag(subject));
  return index ? { via: 'tag', manifests: index.manifests } : { via: 'none', manifests: [] };
}

export interface Referrer {
  /** The referrer manifest's exact bytes (its `subject` is the image). */
  manifest: ManifestBytes;
  /** Its descriptor in a referrers list: mediaType, digest, size, artifactType, annotations. */
  descriptor: Descriptor;
}

export interface PushedReferrers {
  via: 'api' | 'tag';
  /** The fallback tag written (when via is `tag`). */
  tag?: string;
}

/**
 * Store referrer manifests of `subject` (their blobs must already be in `target`), then make
 * them discoverable: nothing more on a registry with the referrers API, else one write of the
 * fallback tag's index with every new descriptor appended (existing entries kept).
 */
export async function pushReferrers(
  target: ImageTarget,
  subject: Digest,
  referrers: readonly Referrer[],
  log: Logger = silentLogger,
): Promise<PushedReferrers> {
  let api = false;
  if (target instanceof RegistryRepository) {
    const t = target.registry.transport;
    for (const r of referrers) {
      const put = await putManifestWithSubject(t, target.repo, r.manifest.bytes, r.manifest.mediaType);
      if (put.ociSubject === subject) api = true;
    }
    // No OCI-Subject header: probe, as go-containerregistry does (its own test registry has the
    // API but never sends the header).
    if (!api && referrers.length > 0) api = (await getReferrers(t, target.repo, subject)) !== undefined;
  } else {
    for (const r of referrers) await target.putManifest(r.manifest);
  }
  if (api) return { via: 'api' };
  const tag = referrersTag(subject);
  const existing = (await target.resolveTag(tag)) ? await tagIndex(target, tag) : undefined;
  const have = new Set((existing?.manifests ?? []).map((m) => m.digest));
  const added = referrers.map((r) => r.descriptor).filter((d) => !have.has(d.digest));
  if (added.length === 0 && existing) return { via: 'tag', tag };
  const index: Index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [...(existing?.manifests ?? []), ...added],
  };
  const bytes = Buffer.from(JSON.stringify(index));
  await target.putManifest({ bytes, mediaType: MT.ociIndex, digest: sha256Digest(bytes) }, tag);
  log.debug(`${target.name}:${tag} lists ${index.manifests.length} referrer(s) (no referrers API)`);
  return { via: 'tag', tag };
}
