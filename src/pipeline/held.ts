import { isIndexType } from '../oci/mediatypes.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { ImageConfig, Index, Manifest } from '../oci/types.ts';
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
