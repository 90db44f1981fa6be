import { createHash } from 'node:crypto';
import type { ImageMode } from '../config/schema.ts';
import type { ModelFile, ModelVersionFacts } from './model.ts';

// Keys kiln writes into image labels (config) and annotations (manifest/index). The
// org.opencontainers.image.* keys follow image-spec `annotations.md`; kiln's own live under
// dev.kiln.*. Nothing here may vary between two bakes of the same version (no alias, no target,
// no registry host, no wall-clock time), or the same version would get two digests.

export const KEY = {
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  baseDigest: 'org.opencontainers.image.base.digest',
  model: 'dev.kiln.mlflow.model',
  modelVersion: 'dev.kiln.mlflow.version',
  runId: 'dev.kiln.mlflow.run-id',
  mlflowSource: 'dev.kiln.mlflow.source',
  mode: 'dev.kiln.mode',
  files: 'dev.kiln.model.files',
  build: 'dev.kiln.build',
} as const;

export interface BuildInputs {
  facts: ModelVersionFacts;
  files: readonly ModelFile[];
  mode: ImageMode;
  compression: string;
  baseDigest: string | undefined;
  mtime: number;
  /** The scan policy (ScanGate.fingerprint): the same files baked under another policy are another bake. */
  scan?: string | undefined;
}

/**
 * A fingerprint of everything that determines the image: a tag holding an image with the same
 * fingerprint is the same bake, so re-baking is a no-op instead of a re-download.
 */
export function buildFingerprint(b: BuildInputs): string {
  const canonical = JSON.stringify({
    v: 1, // bump when the layer format changes
    model: b.facts.name,
    version: b.facts.version,
    files: b.files.map((f) => [f.path, f.size]),
    mode: b.mode,
    compression: b.compression,
    base: b.baseDigest ?? null,
    mtime: b.mtime,
    ...(b.scan ? { scan: b.scan } : {}),
  });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

export function manifestAnnotations(b: BuildInputs, created: string): Record<string, string> {
  const a: Record<string, string> = {
    [KEY.created]: created,
    [KEY.title]: b.facts.name,
    [KEY.version]: b.facts.version,
    [KEY.source]: b.facts.source,
    [KEY.model]: b.facts.name,
    [KEY.modelVersion]: b.facts.version,
    [KEY.mlflowSource]: b.facts.source,
    [KEY.mode]: b.mode,
    [KEY.build]: buildFingerprint(b),
  };
  if (b.facts.runId) {
    a[KEY.revision] = b.facts.runId;
    a[KEY.runId] = b.facts.runId;
  }
  if (b.baseDigest) a[KEY.baseDigest] = b.baseDigest;
  return a;
}
