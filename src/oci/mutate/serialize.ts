import { sha256Digest } from '../digest.ts';
import type { ManifestBytes } from '../store.ts';
import type { Descriptor, Index, Manifest } from '../types.ts';
import type { MutatedImage } from './append.ts';

// Serialisation is where digests are born, so it is deterministic: fixed key order, no
// whitespace, and the digest taken over exactly the bytes that will be stored.

export interface SerializedImage {
  config: { bytes: Buffer; descriptor: Descriptor };
  manifest: ManifestBytes;
}

export function serializeImage(img: MutatedImage): SerializedImage {
  const configBytes = Buffer.from(JSON.stringify(img.config));
  const configDesc: Descriptor = {
    mediaType: img.configMediaType,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: img.mediaType,
    config: configDesc,
    layers: img.layers,
  };
  if (img.annotations && Object.keys(img.annotations).length > 0)
    manifest.annotations = sortKeys(img.annotations);
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    config: { bytes: configBytes, descriptor: configDesc },
    manifest: { bytes, mediaType: img.mediaType, digest: sha256Digest(bytes) },
  };
}

export function serializeIndex(
  mediaType: string,
  manifests: Descriptor[],
  annotations?: Record<string, string>,
): ManifestBytes {
  const index: Index = { schemaVersion: 2, mediaType, manifests };
  if (annotations && Object.keys(annotations).length > 0) index.annotations = sortKeys(annotations);
  const bytes = Buffer.from(JSON.stringify(index));
  return { bytes, mediaType, digest: sha256Digest(bytes) };
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
