// Sigstore bundles stored as OCI 1.1 referrers of the image they sign, exactly as cosign v3 lays
// them out (pkg/oci/remote/write.go WriteAttestationNewBundleFormat -> WriteReferrer, and
// specs/BUNDLE_SPEC.md in sigstore/cosign): one OCI image manifest per bundle with
// - artifactType = the bundle media type, config = the empty descriptor (blob `{}`),
// - exactly one layer: the bundle JSON, media type = the bundle media type,
// - subject = the image's descriptor,
// - annotations org.opencontainers.image.created, dev.sigstore.bundle.content = dsse-envelope,
//   dev.sigstore.bundle.predicateType = the statement's predicate type.
// Reading mirrors cosign's GetBundles + ociremote.Bundle: every referrer is looked at (the
// listing's artifactType is not trusted: ggcr's test registry reports the config media type
// there), and a referrer that is not exactly one bundle layer is skipped, not an error.
import { KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { sha256Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import { listReferrers, type Referrer } from '../oci/referrers.ts';
import type { ImageSource, ImageTarget, ManifestBytes } from '../oci/store.ts';
import type { Descriptor } from '../oci/types.ts';
import { BUNDLE_V03_MEDIA_TYPE } from './bundle.ts';
import { GoStruct, goJson } from './gojson.ts';

export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';
const BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';
/** The OCI empty descriptor's blob (image-spec manifest.md "Guidance for an Empty Descriptor"). */
const EMPTY_CONFIG = Buffer.from('{}');
/** Bundles are a few KiB; refuse anything absurd rather than buffer it. */
const MAX_BUNDLE_BYTES = 16 << 20;

function descriptor(d: Descriptor): GoStruct {
  return new GoStruct({
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    annotations: d.annotations,
    artifactType: d.artifactType,
  });
}

/** The referrer manifest for one bundle, field for field (and in Go's order) as cosign v3 writes it. */
export function bundleReferrer(
  bundle: Buffer,
  subject: Descriptor,
  predicateType: string,
  created: Date,
): Referrer {
  const layer: Descriptor = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    size: bundle.length,
    digest: sha256Digest(bundle),
  };
  const config: Descriptor = {
    mediaType: MT.ociEmpty,
    size: EMPTY_CONFIG.length,
    digest: sha256Digest(EMPTY_CONFIG),
    artifactType: BUNDLE_V03_MEDIA_TYPE,
  };
  const annotations = {
    [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope',
    [BUNDLE_PREDICATE_ANNOTATION]: predicateType,
    [CREATED_ANNOTATION]: created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const bytes = Buffer.from(
    goJson(
      new GoStruct({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: descriptor(config),
        layers: [descriptor(layer)],
        annotations,
        subject: descriptor({ mediaType: subject.mediaType, size: subject.size, digest: subject.digest }),
        artifactType: BUNDLE_V03_MEDIA_TYPE,
      }),
    ),
  );
  const digest = sha256Digest(bytes);
  return {
    manifest: { bytes, mediaType: MT.ociManifest, digest },
    descriptor: {
      mediaType: MT.ociManifest,
      digest,
      size: bytes.length,
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      annotations,
    },
  };
}

/** Push the blobs of bundle referrers: the bundle layers and the shared empty config. */
export async function putBundleBlobs(target: ImageTarget, bundles: readonly Buffer[]): Promise<void> {
  await target.putBlob(EMPTY_CONFIG, MT.ociEmpty);
  for (const b of bundles) await target.putBlob(b, BUNDLE_V03_MEDIA_TYPE);
}

export interface StoredBundle {
  /** The referrer manifest's digest. */
  manifest: Digest;
  /** dev.sigstore.bundle.predicateType when the manifest carries it (a hint: the statement decides). */
  predicateType: string | undefined;
  bytes: Buffer;
}

export interface FoundBundles {
  via: 'api' | 'tag' | 'none';
  /** Every referrer of the image (bundles or not). */
  referrers: number;
  bundles: StoredBundle[];
}

/** The bundles referring to `subject`, as cosign v3 finds them (non-bundle referrers skipped). */
export async function readBundles(source: ImageSource, subject: Digest): Promise<FoundBundles> {
  const list = await listReferrers(source, subject);
  const bundles: StoredBundle[] = [];
  for (const d of list.manifests) {
    if (d.mediaType !== MT.ociManifest) continue;
    const found = await readBundle(source, d.digest);
    if (found) bundles.push(found);
  }
  return { via: list.via, referrers: list.manifests.length, bundles };
}

async function readBundle(source: ImageSource, digest: Digest): Promise<StoredBundle | undefined> {
  let m: ManifestBytes;
  try {
    m = await source.getManifest(digest);
  } catch (e) {
    // Listed but gone (deleted since, or the fallback index is stale): not a bundle.
    if (e instanceof KilnError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
    throw e;
  }
  let doc: { layers?: Descriptor[]; annotations?: Record<string, string> };
  try {
    doc = JSON.parse(m.bytes.toString('utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const layers = Array.isArray(doc.layers) ? doc.layers : [];
  const layer = layers[0];
  if (layers.length !== 1 || !layer || typeof layer.mediaType !== 'string') return undefined;
  if (!layer.mediaType.startsWith(BUNDLE_PREFIX)) return undefined;
  const bytes = await source.readBlob(layer, MAX_BUNDLE_BYTES);
  return { manifest: digest, predicateType: doc.annotations?.[BUNDLE_PREDICATE_ANNOTATION], bytes };
}
