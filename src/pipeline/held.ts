import type { Digest } from '../oci/digest.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { ImageConfig, Index, Manifest, Platform } from '../oci/types.ts';
import { KEY } from './labels.ts';

/**
 * The kiln keys an image already in a target carries: from the manifest (or index) annotations
 * when present, else from the config labels of the image (the first platform of an index).
 * Docker v2 manifests and manifest lists have no annotations, so without this fallback a bake on
 * a Docker-format base would never recognise itself.
 */
export async function recordedKeys(
  source: ImageSource,
  held: ManifestBytes,
): Promise<Record<string, string>> {
  const doc = JSON.parse(held.bytes.toString('utf8')) as Partial<Manifest & Index>;
  if (doc.annotations?.[KEY.build]) return doc.annotations;
  let manifest: Partial<Manifest> = doc;
  if (isIndexType(doc.mediaType ?? held.mediaType) || Array.isArray(doc.manifests)) {
    const first = doc.manifests?.[0];
    if (!first) return {};
    manifest = JSON.parse((await source.getManifest(first.digest)).bytes.toString('utf8')) as Manifest;
  }
  if (!manifest.config) return {};
  const config = JSON.parse((await source.readBlob(manifest.config)).toString('utf8')) as ImageConfig;
  return config.config?.Labels ?? {};
}

/**
 * What a no-op re-bake reports about the image already in the target, so `--json` has the same
 * fields as a fresh bake: the model layer (the top layer, and its diff_id from the config) and
 * the platforms (`os/arch[/variant]`).
 */
export async function describeHeld(
  source: ImageSource,
  held: ManifestBytes,
): Promise<{ layer: { digest: Digest; diffId: Digest; size: number } | undefined; platforms: string[] }> {
  const doc = JSON.parse(held.bytes.toString('utf8')) as Partial<Manifest & Index>;
  const images: Array<{ manifest: Partial<Manifest>; platform?: Platform | undefined }> = [];
  if (isIndexType(doc.mediaType ?? held.mediaType) || Array.isArray(doc.manifests)) {
    for (const d of doc.manifests ?? []) {
      const m = JSON.parse((await source.getManifest(d.digest)).bytes.toString('utf8')) as Manifest;
      images.push({ manifest: m, platform: d.platform });
    }
  } else {
    images.push({ manifest: doc });
  }
  const platforms: string[] = [];
  let layer: { digest: Digest; diffId: Digest; size: number } | undefined;
  for (const { manifest, platform } of images) {
    if (!manifest.config) continue;
    const config = JSON.parse((await source.readBlob(manifest.config)).toString('utf8')) as ImageConfig;
    const p = platform ?? { os: config.os, architecture: config.architecture, variant: config.variant };
    platforms.push(`${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`);
    const top = manifest.layers?.[manifest.layers.length - 1];
    const diffId = config.rootfs?.diff_ids?.[config.rootfs.diff_ids.length - 1];
    if (!layer && top && diffId) layer = { digest: top.digest, diffId: diffId as Digest, size: top.size };
  }
  return { layer, platforms };
}
