import type { Digest } from '../digest.ts';
import { familyOf, MT } from '../mediatypes.ts';
import type { Descriptor, ImageConfig, Manifest, Platform } from '../types.ts';

// Pure image mutation: base (manifest + config) + one layer + config edits -> new manifest and
// config objects. No I/O; the pipeline serialises and stores them (go-containerregistry `mutate`).

export interface LayerToAppend {
  descriptor: Descriptor;
  diffId: Digest;
}

export interface ImageEdits {
  /** RFC 3339, deterministic (SOURCE_DATE_EPOCH or the model version's creation time). */
  created: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  history: { created_by: string; comment?: string };
  /** Drop the base's ENTRYPOINT (KServe modelcars must have none: KServe sets only args). */
  clearEntrypoint?: boolean;
}

export interface BaseImage {
  manifest: Manifest;
  manifestMediaType: string;
  config: ImageConfig;
}

/** A manifest-to-be: everything but the config descriptor, which `serialize` derives from the config bytes. */
export interface MutatedImage {
  mediaType: string;
  configMediaType: string;
  layers: Descriptor[];
  /** undefined for Docker v2 manifests, which have no annotations field. */
  annotations: Record<string, string> | undefined;
  config: ImageConfig;
}

/** Docker v2 layer and config types mapped to their OCI twins (same bytes, same digests). */
const TO_OCI: Record<string, string> = {
  [MT.dockerLayerGzip]: MT.ociLayerGzip,
  [MT.dockerForeignLayerGzip]: MT.ociLayerGzip,
  [MT.dockerConfig]: MT.ociConfig,
};

export function appendLayer(
  base: BaseImage,
  layer: LayerToAppend,
  edits: ImageEdits,
  layerMediaType: (family: 'oci' | 'docker') => string | undefined,
): MutatedImage {
  let family = familyOf(base.manifestMediaType);
  let mediaType = layerMediaType(family);
  if (mediaType === undefined) {
    // The chosen compression has no Docker media type: convert the whole manifest to OCI
    // rather than mixing families (skopeo and CRI-O reject mixed manifests; FIELD-NOTES).
    family = 'oci';
    mediaType = layerMediaType('oci') ?? MT.ociLayerGzip;
  }
  const convert = (d: Descriptor): Descriptor =>
    family === 'oci' ? { ...d, mediaType: TO_OCI[d.mediaType] ?? d.mediaType } : d;
  return {
    mediaType: family === 'oci' ? MT.ociManifest : MT.dockerManifest,
    configMediaType: family === 'oci' ? MT.ociConfig : MT.dockerConfig,
    layers: [...base.manifest.layers.map(convert), { ...layer.descriptor, mediaType }],
    // Docker v2 schema 2 has no manifest annotations; OCI manifests carry them.
    annotations: family === 'oci' ? { ...base.manifest.annotations, ...edits.annotations } : undefined,
    config: editConfig(base.config, layer.diffId, edits),
  };
}

/** A model-only image: no base, just the model layer (the embedded default, and KitOps-style use). */
export function scratchImage(
  platform: Platform,
  layer: LayerToAppend,
  edits: ImageEdits,
  layerMediaType: string,
): MutatedImage {
  const base: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [] },
  };
  if (platform.variant) base.variant = platform.variant;
  return {
    mediaType: MT.ociManifest,
    configMediaType: MT.ociConfig,
    layers: [{ ...layer.descriptor, mediaType: layerMediaType }],
    annotations: edits.annotations,
    config: editConfig(base, layer.diffId, edits),
  };
}

function editConfig(base: ImageConfig, diffId: Digest, edits: ImageEdits): ImageConfig {
  const inner = { ...base.config };
  const env = (inner.Env ?? []).filter((e) => !(e.split('=')[0]! in edits.env));
  inner.Env = [...env, ...Object.entries(edits.env).map(([k, v]) => `${k}=${v}`)];
  inner.Labels = { ...inner.Labels, ...edits.labels };
  if (edits.clearEntrypoint) delete inner.Entrypoint;
  const history = [...(base.history ?? []), { created: edits.created, ...edits.history }];
  return {
    ...base,
    created: edits.created,
    config: inner,
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, diffId] },
    history,
  };
}

/** Node's process.arch in Go/OCI platform terms (image-spec `config.md` architecture values). */
export function hostPlatform(): Platform {
  const arch = (
    {
      x64: 'amd64',
      arm64: 'arm64',
      arm: 'arm',
      ppc64: 'ppc64le',
      s390x: 's390x',
      riscv64: 'riscv64',
    } as const
  )[process.arch as 'x64'];
  return { architecture: arch ?? process.arch, os: 'linux' };
}
