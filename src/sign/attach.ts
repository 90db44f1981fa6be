// Storing cosign's classic signature/attestation images next to an image, through any
// ImageTarget (registry repository, OCI layout, OCI archive being written). cosign's own order
// (pkg/oci/remote/write.go WriteSignatures): the new layer blob, the config, then the manifest at
// `sha256-<hex>.sig|.att`. Appending = the layers already there plus the new one
// (pkg/oci/mutate AppendSignatures), so older signatures, cosign's or anyone's, are kept.
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import type { ImageSource, ImageTarget } from '../oci/store.ts';
import {
  type CosignDescriptor,
  type CosignLayer,
  cosignImage,
  OCI_MANIFEST_MEDIA_TYPE,
} from './cosign-layers.ts';

export interface AttachResult {
  /** `sha256-<hex>.sig` or `.att`. */
  tag: string;
  /** Digest of the .sig/.att manifest the tag names after this call. */
  manifest: Digest;
  /** How many layers (signatures or attestations) it holds. */
  layers: number;
  /** False when an equivalent layer was already there and nothing was written (idempotent). */
  added: boolean;
}

/** An existing .sig/.att image: its layers, readable through `source`. */
export interface CosignStore {
  manifest: Digest;
  layers: CosignDescriptor[];
}

/**
 * The layers of the image tagged `tag`, or undefined when the tag does not exist. A tag naming
 * something that is not a plain OCI/Docker manifest is COSIGN_TAG_INVALID: kiln will not
 * append to (or trust) an object it does not understand.
 */
export async function readCosignStore(source: ImageSource, tag: string): Promise<CosignStore | undefined> {
  let got: Awaited<ReturnType<ImageSource['getManifest']>>;
  try {
    got = await source.getManifest(tag);
  } catch (e) {
    if (e instanceof KilnError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
    throw e;
  }
  const doc = parseJson(got.bytes) as { mediaType?: unknown; layers?: unknown } | null;
  const mt = doc?.mediaType ?? got.mediaType;
  if (!doc || !Array.isArray(doc.layers) || (mt !== MT.ociManifest && mt !== MT.dockerManifest)) {
    throw new KilnError('COSIGN_TAG_INVALID', `${source.name}:${tag} is not a cosign signature manifest`, {
      kind: 'policy',
      hint: 'something else holds this tag; remove it (cosign clean) before signing again',
      details: { tag, digest: got.digest },
    });
  }
  return { manifest: got.digest, layers: doc.layers as CosignDescriptor[] };
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
}

export interface AppendOptions {
  tag: string;
  layer: CosignLayer;
  /** True when an existing layer already says what `layer` would say: then nothing is written. */
  isDuplicate?: (existing: CosignDescriptor, store: CosignStore) => Promise<boolean>;
  log?: Logger;
}

/** Append `layer` to the cosign image at `tag` (creating it), unless a duplicate is already there. */
export async function appendCosignLayer(target: ImageTarget, opts: AppendOptions): Promise<AttachResult> {
  const log = opts.log ?? silentLogger;
  // resolveTag first: an archive being written cannot be read, and says "no tag" instead.
  const existing = (await target.resolveTag(opts.tag)) ? await readCosignStore(target, opts.tag) : undefined;
  const layers = existing?.layers ?? [];
  if (existing && opts.isDuplicate) {
    for (const l of layers) {
      if (await opts.isDuplicate(l, existing)) {
        log.info(`${target.name}:${opts.tag} already holds this ${kindOf(opts.tag)}: nothing to add`);
        return { tag: opts.tag, manifest: existing.manifest, layers: layers.length, added: false };
      }
    }
  }
  const img = cosignImage([...layers, opts.layer.descriptor]);
  await target.putBlob(opts.layer.data, opts.layer.descriptor.mediaType);
  await target.putBlob(img.config.data, img.config.descriptor.mediaType);
  const digest = img.manifest.descriptor.digest as Digest;
  await target.putManifest(
    { bytes: img.manifest.data, mediaType: OCI_MANIFEST_MEDIA_TYPE, digest },
    opts.tag,
  );
  log.info(`wrote ${kindOf(opts.tag)} ${layers.length + 1} to ${target.name}:${opts.tag}`);
  return { tag: opts.tag, manifest: digest, layers: layers.length + 1, added: true };
}

const kindOf = (tag: string): string => (tag.endsWith('.att') ? 'attestation' : 'signature');

/** Layer blobs are small JSON documents; refuse anything absurd rather than buffer it. */
export const MAX_COSIGN_LAYER_BYTES = 16 << 20;

export function readCosignLayer(source: ImageSource, desc: CosignDescriptor): Promise<Buffer> {
  return source.readBlob(
    { mediaType: desc.mediaType, digest: desc.digest as Digest, size: desc.size },
    MAX_COSIGN_LAYER_BYTES,
  );
}
