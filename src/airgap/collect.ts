// Everything that travels with one image: its manifests (every platform of an index, including
// attestation manifests), their blobs, the classic `.sig`/`.att` images, and the image's
// referrers (Sigstore bundles, and anything else that names it as subject) with their blobs.
// Manifests are small and held in memory; blobs are only described here and streamed later.
import { KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import { listReferrers } from '../oci/referrers.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { Descriptor, Index, Manifest } from '../oci/types.ts';
import { attestationTag, signatureTag } from '../sign/cosign-layers.ts';

export interface Collected {
  top: ManifestBytes;
  /** The image's manifests, children first, `top` last. */
  manifests: ManifestBytes[];
  signature: ManifestBytes | undefined;
  attestation: ManifestBytes | undefined;
  referrers: { descriptor: Descriptor; manifests: ManifestBytes[] }[];
  /** Every blob the above reference, once each. */
  blobs: Descriptor[];
}

/** A manifest's blobs, and its child manifests when it is an index; children collected first. */
async function walk(
  source: ImageSource,
  m: ManifestBytes,
  out: ManifestBytes[],
  blobs: Map<Digest, Descriptor>,
  depth = 0,
): Promise<void> {
  if (depth > 4)
    throw new KilnError('MANIFEST_INVALID', `${source.name}@${m.digest}: indexes nested too deep`);
  const doc = JSON.parse(m.bytes.toString('utf8')) as Partial<Manifest & Index>;
  if (isIndexType(m.mediaType) || Array.isArray(doc.manifests)) {
    for (const child of doc.manifests ?? []) {
      await walk(source, await source.getManifest(child.digest), out, blobs, depth + 1);
    }
  } else {
    for (const d of [doc.config, ...(doc.layers ?? [])]) {
      if (d && !blobs.has(d.digest))
        blobs.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
    }
  }
  if (!out.some((x) => x.digest === m.digest)) out.push(m);
}

async function optionalTag(source: ImageSource, tag: string): Promise<ManifestBytes | undefined> {
  try {
    return await source.getManifest(tag);
  } catch (e) {
    if (e instanceof KilnError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
    throw e;
  }
}

export async function collectImage(source: ImageSource, digest: Digest): Promise<Collected> {
  const blobs = new Map<Digest, Descriptor>();
  const top = await source.getManifest(digest);
  const manifests: ManifestBytes[] = [];
  await walk(source, top, manifests, blobs);
  const extra = async (m: ManifestBytes | undefined) => {
    if (m) await walk(source, m, [], blobs);
    return m;
  };
  const signature = await extra(await optionalTag(source, signatureTag(digest)));
  const attestation = await extra(await optionalTag(source, attestationTag(digest)));
  const referrers: Collected['referrers'] = [];
  for (const d of (await listReferrers(source, digest)).manifests) {
    const got: ManifestBytes[] = [];
    await walk(source, await source.getManifest(d.digest), got, blobs);
    referrers.push({ descriptor: d, manifests: got });
  }
  return { top, manifests, signature, attestation, referrers, blobs: [...blobs.values()] };
}

/** A referrer's descriptor as a referrers list should carry it: artifactType and annotations from the manifest itself. */
export function referrerDescriptor(m: ManifestBytes): Descriptor {
  const doc = JSON.parse(m.bytes.toString('utf8')) as {
    artifactType?: string;
    config?: { mediaType?: string };
    annotations?: Record<string, string>;
  };
  const artifactType = doc.artifactType ?? doc.config?.mediaType;
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.length,
    ...(artifactType ? { artifactType } : {}),
    ...(doc.annotations ? { annotations: doc.annotations } : {}),
  };
}
