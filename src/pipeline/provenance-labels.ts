import { randomUUID } from 'node:crypto';
import type { ImageMode } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isIndexType, MT } from '../oci/mediatypes.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { Descriptor } from '../oci/types.ts';
import type { ProvenanceInput } from '../sign/provenance.ts';
import { KEY } from './labels.ts';
import { modelPaths } from './sign.ts';

// `kiln attest IMAGE@DIGEST` without --predicate: the SLSA provenance of an image kiln baked,
// rebuilt from the dev.kiln.* annotations bake wrote on its manifest (or index). What the
// annotations cannot tell (they hold nothing that varies between two bakes of one version): the
// alias, the base image's name (its digest is there) and the MLflow server, which comes from
// MLFLOW_TRACKING_URI when set. runDetails then describe this attest run, not the original bake.

export interface Found {
  annotations: Record<string, string>;
  layers: Descriptor[];
}

export async function kilnAnnotations(source: ImageSource, top: ManifestBytes): Promise<Found | undefined> {
  const doc = JSON.parse(top.bytes.toString('utf8')) as {
    annotations?: Record<string, string>;
    layers?: Descriptor[];
    manifests?: Descriptor[];
  };
  if (doc.annotations?.[KEY.model] && !isIndexType(top.mediaType)) {
    return { annotations: doc.annotations, layers: doc.layers ?? [] };
  }
  if (isIndexType(top.mediaType)) {
    // A Docker manifest list carries no annotations: the platform manifests do.
    const first = doc.manifests?.find((m) => m.platform?.os !== 'unknown');
    if (!first) return undefined;
    const child = await kilnAnnotations(source, await source.getManifest(first.digest));
    if (!child) return undefined;
    return { annotations: { ...child.annotations, ...doc.annotations }, layers: child.layers };
  }
  return undefined;
}

/** gzip | zstd | none, from the model layer (the last one kiln appended). */
function compressionOf(layers: Descriptor[]): string {
  const mt = layers[layers.length - 1]?.mediaType ?? '';
  if (mt.endsWith('zstd')) return 'zstd';
  if (mt.endsWith('gzip') || mt === MT.dockerLayerGzip) return 'gzip';
  return mt === MT.ociLayer ? 'none' : 'unknown';
}

export async function provenanceFromLabels(
  source: ImageSource,
  image: { manifest: ManifestBytes; digest: Digest; identity: string; reference: string },
  trackingUri: string | undefined,
): Promise<ProvenanceInput> {
  const found = await kilnAnnotations(source, image.manifest);
  const a = found?.annotations ?? {};
  const name = a[KEY.model];
  const version = a[KEY.modelVersion];
  if (!found || !name || !version) {
    throw new KilnError(
      'ATTESTATION_PREDICATE_REQUIRED',
      `${image.reference} has no kiln annotations (${KEY.model}, ${KEY.modelVersion}), so kiln cannot write its provenance`,
      {
        kind: 'usage',
        hint: 'pass the predicate yourself: kiln attest IMAGE@DIGEST --key K --predicate predicate.json',
      },
    );
  }
  const mode: ImageMode = a[KEY.mode] === 'modelcar' ? 'modelcar' : 'baked';
  let files: { path: string; sha256: string }[] = [];
  try {
    files = modelPaths(
      JSON.parse(a[KEY.files] ?? '[]') as { path: string; size: number; sha256: string }[],
      mode,
    );
  } catch {
    files = [];
  }
  const baseDigest = a[KEY.baseDigest];
  const now = new Date();
  return {
    image: { name: image.identity, digest: image.digest },
    modelUri: `models:/${name}/${version}`,
    mlflow: {
      trackingUri: trackingUri ?? 'unknown',
      modelName: name,
      version,
      runId: a[KEY.runId],
      sourceUri: a[KEY.mlflowSource],
    },
    files,
    build: {
      target: image.reference.replace(/@sha256:[a-f0-9]{64}$/, ''),
      mode,
      compression: compressionOf(found.layers),
      base: baseDigest ? { digest: baseDigest } : undefined,
    },
    invocationId: randomUUID(),
    startedOn: now,
    finishedOn: now,
  };
}
