import { isKilnError, KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isIndexType, isManifestType, MT } from '../oci/mediatypes.ts';
import type { BaseImage } from '../oci/mutate/append.ts';
import type { ImageSource } from '../oci/store.ts';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../oci/types.ts';

// Reading the base image: one manifest, or an index whose every runnable platform is baked.

export interface BasePlatform {
  platform: Platform | undefined;
  base: BaseImage;
}

export interface ResolvedBase {
  source: ImageSource;
  /** Digest of what the user named (the index for a multi-platform base). */
  digest: Digest;
  /** Set when the base is an index: the new image is an index of the same type. */
  indexMediaType: string | undefined;
  platforms: BasePlatform[];
}

export async function readBase(source: ImageSource, ref: string): Promise<ResolvedBase> {
  const top = await source.getManifest(ref).catch((e: unknown) => {
    if (!isKilnError(e, 'MANIFEST_NOT_FOUND')) throw e;
    const name = `${source.name}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
    throw new KilnError('BASE_NOT_FOUND', `base image ${name} does not exist`, {
      kind: 'usage',
      hint: 'check --base (or build.base in kiln.yaml): push the runtime image there first, or name one that exists',
      cause: e,
    });
  });
  const json = JSON.parse(top.bytes.toString('utf8')) as Manifest | Index;
  const mediaType = json.mediaType ?? top.mediaType;
  if (isIndexType(mediaType) || 'manifests' in json) {
    const index = json as Index;
    // `unknown/unknown` entries are attestations (buildx provenance/SBOM), not runnable images.
    const runnable = index.manifests.filter(
      (d) =>
        isManifestType(d.mediaType) &&
        !(d.platform?.os === 'unknown' && d.platform.architecture === 'unknown'),
    );
    if (runnable.length === 0) {
      throw new KilnError(
        'BASE_INVALID',
        `base ${source.name}@${top.digest} is an index with no runnable platform`,
        {
          kind: 'usage',
          hint: 'choose a base image that has at least one linux platform',
        },
      );
    }
    const platforms: BasePlatform[] = [];
    for (const d of runnable) platforms.push({ platform: d.platform, base: await readImage(source, d) });
    return {
      source,
      digest: top.digest,
      indexMediaType: mediaType === MT.dockerList ? MT.dockerList : MT.ociIndex,
      platforms,
    };
  }
  const desc: Descriptor = { mediaType, digest: top.digest, size: top.bytes.length };
  return {
    source,
    digest: top.digest,
    indexMediaType: undefined,
    platforms: [{ platform: undefined, base: await readImage(source, desc, top.bytes) }],
  };
}

async function readImage(source: ImageSource, desc: Descriptor, bytes?: Buffer): Promise<BaseImage> {
  const raw = bytes ?? (await source.getManifest(desc.digest)).bytes;
  const manifest = JSON.parse(raw.toString('utf8')) as Manifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new KilnError('BASE_INVALID', `base ${source.name}@${desc.digest} is not an image manifest`, {
      kind: 'usage',
      hint: 'schema 1 manifests and non-image artifacts cannot be baked onto',
    });
  }
  const config = JSON.parse((await source.readBlob(manifest.config)).toString('utf8')) as ImageConfig;
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new KilnError(
      'BASE_INVALID',
      `base ${source.name}@${desc.digest} has a config without rootfs.diff_ids`,
      { kind: 'usage' },
    );
  }
  return { manifest, manifestMediaType: manifest.mediaType ?? desc.mediaType, config };
}
