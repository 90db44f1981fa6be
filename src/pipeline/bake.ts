import { addAbortSignal, pipeline, type Readable } from 'node:stream';
import type { Compression, ImageMode } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { layerMediaType } from '../oci/layer/compress.ts';
import { buildLayer } from '../oci/layer/layer.ts';
import { modelDirFor, safeArtifactPath } from '../oci/layer/paths.ts';
import type { TarFileResult } from '../oci/layer/tar.ts';
import { MT } from '../oci/mediatypes.ts';
import {
  appendLayer,
  hostPlatform,
  type ImageEdits,
  type LayerToAppend,
  scratchImage,
} from '../oci/mutate/append.ts';
import { serializeImage, serializeIndex } from '../oci/mutate/serialize.ts';
import type { ImageSource, ImageTarget, ManifestBytes } from '../oci/store.ts';
import type { Descriptor } from '../oci/types.ts';
import { humanBytes, type ProgressSink, StageProgress } from '../progress.ts';
import { type ResolvedBase, readBase } from './base.ts';
import { describeHeld, recordedKeys } from './held.ts';
import { type BuildInputs, buildFingerprint, KEY, manifestAnnotations } from './labels.ts';
import { type ModelFiles, versionUri } from './model.ts';
import type { ScanGate } from './scan-gate.ts';

export interface BakeRequest {
  model: ModelFiles;
  target: ImageTarget;
  base: { source: ImageSource; ref: string } | undefined;
  mode: ImageMode;
  compression: Compression;
  /** The resolved tag (template already applied). */
  tag: string;
  forceTag: boolean;
  /** SOURCE_DATE_EPOCH when set; otherwise the model version's creation time is used. */
  sourceDateEpoch: number | undefined;
  /**
   * Runs once the image is stored by digest and before the tag is written (e.g. sign + attest),
   * so a tag never names an image whose signing failed. Also runs for a no-op re-bake, so it
   * must be idempotent. Writes go to the same target (an archive is still open).
   */
  beforeTag?: (image: PushedBake, target: ImageTarget) => Promise<void>;
  /**
   * The model security gate (scan-gate.ts): tees each file's bytes into the scanner as the layer
   * streams, and decides once the layer is stored, before any manifest, tag or signature.
   */
  scan?: Pick<ScanGate, 'wrap' | 'afterLayer' | 'fingerprint' | 'summary'>;
  log?: Logger;
  /** Byte counts per stage (download, upload, base) for progress displays. */
  onProgress?: ProgressSink;
  /**
   * Stops the bake (Ctrl-C): streams are destroyed, the target's temporary files and upload
   * session are removed, and the tag is never written. Rejects with KilnError INTERRUPTED.
   */
  signal?: AbortSignal;
}

/** What is known when `beforeTag` runs: everything in the result but the tag. */
export type PushedBake = Omit<BakeResult, 'tag'>;

export interface BakeResult {
  digest: Digest;
  /** Digest-pinned reference: `host/repo@sha256:...` or `oci:DIR@sha256:...`. */
  reference: string;
  tag: string;
  mediaType: string;
  /** Size in bytes of the manifest (or index) `digest` names: with mediaType, its descriptor. */
  size: number;
  /** True when the tag already held this exact bake: nothing was downloaded or uploaded. */
  reused: boolean;
  model: { name: string; version: string; runId: string | undefined; source: string };
  baseDigest: Digest | undefined;
  layer: { digest: Digest; diffId: Digest; size: number } | undefined;
  files: TarFileResult[];
  platforms: string[];
  /** The scan of this bake's files (absent when scanning is off or nothing was downloaded). */
  scan?: ReturnType<ScanGate['summary']>;
}

/** resolve base -> check tag -> stream the model layer once -> per platform config + manifest -> index -> tag. */
export async function bake(req: BakeRequest): Promise<BakeResult> {
  // A listener marks this signal as handled: the CLI waits for the cleanup instead of exiting.
  const handled = (): void => {};
  req.signal?.addEventListener('abort', handled);
  try {
    req.signal?.throwIfAborted();
    return await bakeInto(req);
  } catch (e) {
    await req.target.abort?.();
    if (req.signal?.aborted) throw interrupted(e);
    throw e;
  } finally {
    req.signal?.removeEventListener('abort', handled);
  }
}

function interrupted(cause: unknown): KilnError {
  return new KilnError('INTERRUPTED', 'interrupted; nothing was tagged; run again to resume', {
    hint: 'what was already stored is reused by the next run; temporary files were removed',
    cause,
  });
}

async function bakeInto(req: BakeRequest): Promise<BakeResult> {
  const log = req.log ?? silentLogger;
  const { facts } = req.model;
  const uri = versionUri(facts);
  const modelDir = modelDirFor(req.mode);
  const files = req.model.files.map((f) => ({
    file: f,
    layerPath: `${modelDir}/${safeArtifactPath(f.path, uri)}`,
  }));
  if (files.length === 0) {
    throw new KilnError('MODEL_EMPTY', `${uri} has no artifact files`, {
      kind: 'usage',
      hint: 'log the model with its files, then bake again',
    });
  }
  if (req.mode === 'modelcar' && !req.base) {
    throw new KilnError(
      'MODELCAR_BASE_REQUIRED',
      `modelcar images need a base with sh, ln and sleep (KServe's modelcar contract)`,
      {
        kind: 'usage',
        hint: 'pass --base with a small shell image, e.g. a busybox image in your registry',
      },
    );
  }
  const mtime = bakeMtime(facts, req.sourceDateEpoch);
  const created = new Date(mtime * 1000).toISOString().replace('.000Z', 'Z');
  const base = req.base ? await readBase(req.base.source, req.base.ref) : undefined;
  if (base && req.base) warnAboutBase(base, req.base.ref, req.mode, log);
  const inputs: BuildInputs = {
    facts,
    files: req.model.files,
    mode: req.mode,
    compression: req.compression,
    baseDigest: base?.digest,
    mtime,
    scan: req.scan?.fingerprint,
  };
  const fingerprint = buildFingerprint(inputs);
  const summary = { name: facts.name, version: facts.version, runId: facts.runId, source: facts.source };

  const existing = await req.target.resolveTag(req.tag);
  if (existing) {
    const held = await req.target.getManifest(existing);
    const recorded = await recordedKeys(req.target, held);
    if (recorded[KEY.build] === fingerprint) {
      log.info(`${req.target.name}:${req.tag} already holds ${uri} (${existing}): nothing to do`);
      // The same fields as a fresh bake, read back from the image (one --json shape).
      const { layer, platforms } = await describeHeld(req.target, held);
      const reused: PushedBake = {
        digest: existing,
        reference: req.target.pinned(existing),
        mediaType: held.mediaType,
        size: held.bytes.length,
        reused: true,
        model: summary,
        baseDigest: base?.digest,
        layer,
        files: filesFromAnnotations(recorded),
        platforms,
      };
      await req.beforeTag?.(reused, req.target);
      await req.target.close();
      return { ...reused, tag: req.tag };
    }
    if (!req.forceTag) throw tagHeld(req.target, req.tag, existing, recorded);
    log.warn(`moving tag ${req.tag} away from ${existing} (--force-tag)`);
  }

  log.info(
    `baking ${uri} (${files.length} files, ${humanBytes(files.reduce((n, f) => n + f.file.size, 0))}) into ${req.target.name}`,
  );
  const total = files.reduce((n, f) => n + f.file.size, 0);
  const download = new StageProgress(
    req.onProgress,
    'download',
    `model ${facts.name}/${facts.version}`,
    total,
  );
  const upload = new StageProgress(req.onProgress, 'upload', `layer to ${req.target.name}`);
  const layer = buildLayer(
    files.map(({ file, layerPath }) => ({
      path: layerPath,
      size: file.size,
      open: async () => {
        const body = watched(await req.model.open(file), download, req.signal);
        return req.scan ? req.scan.wrap(file.path, body) : body;
      },
    })),
    { mtime, compression: req.compression, mediaType: 'pending' },
  );
  download.start();
  // The upload side is not torn down on abort: a registry upload ends its body cleanly and
  // cancels its session (see uploadBlobStream); the download side stops the stream.
  const stored = await req.target.putBlobStream(watched(layer.stream, upload, undefined), {
    signal: req.signal,
    hashedBy: layer.digester,
  });
  download.end();
  upload.end();
  const built = layer.result();
  if (stored.digest !== built.descriptor.digest) {
    throw new KilnError(
      'DIGEST_MISMATCH',
      `the model layer was stored as ${stored.digest} but hashed as ${built.descriptor.digest}`,
    );
  }
  await req.scan?.afterLayer(built.files);
  const model: LayerToAppend = { descriptor: built.descriptor, diffId: built.diffId };
  // The file hashes go on the manifest/index as well as the config, so a no-op re-bake can still
  // report (and sign) them.
  const annotations = { ...manifestAnnotations(inputs, created), [KEY.files]: JSON.stringify(built.files) };
  const edits: ImageEdits = {
    created,
    env: { MODEL_NAME: facts.name, MODEL_VERSION: facts.version },
    labels: annotations,
    annotations,
    history: {
      created_by: `kiln bake ${uri} --mode ${req.mode} --compression ${req.compression}`,
      comment: 'MLflow model files',
    },
    clearEntrypoint: req.mode === 'modelcar',
  };
  const pushed = base
    ? await pushOnBase(req.target, base, model, edits, req.compression, log, req.onProgress, req.signal)
    : [await pushScratch(req.target, model, edits, req.compression)];
  let top: ManifestBytes;
  if (base?.indexMediaType) {
    // A Docker list may only point at Docker manifests: when the layer forced OCI children
    // (zstd/none), the list becomes an OCI index too (one media-type family per image).
    const docker =
      base.indexMediaType === MT.dockerList &&
      pushed.every((p) => p.manifest.mediaType === MT.dockerManifest);
    top = serializeIndex(
      docker ? MT.dockerList : MT.ociIndex,
      pushed.map((p) => p.descriptor),
      docker ? undefined : annotations,
    );
  } else {
    top = pushed[0]!.manifest;
  }
  const result: PushedBake = {
    digest: top.digest,
    reference: req.target.pinned(top.digest),
    mediaType: top.mediaType,
    size: top.bytes.length,
    reused: false,
    model: summary,
    baseDigest: base?.digest,
    layer: { digest: built.descriptor.digest, diffId: built.diffId, size: built.descriptor.size },
    files: built.files,
    platforms: pushed.map((p) => p.platform),
    ...(req.scan?.summary() ? { scan: req.scan.summary() } : {}),
  };
  await req.target.putManifest(top);
  await req.beforeTag?.(result, req.target);
  req.signal?.throwIfAborted();
  // The tag is written last, so a failure above never leaves a tag on a half-pushed or unsigned image.
  await req.target.putManifest(top, req.tag);
  await req.target.close();
  return { ...result, tag: req.tag };
}

/** A stream counted for progress and destroyed when `signal` aborts. */
function watched(s: Readable, stage: StageProgress, signal: AbortSignal | undefined): Readable {
  const counted = pipeline(s, stage.stream(), () => {});
  return signal ? addAbortSignal(signal, counted) : counted;
}

/** A mutable base tag is shown with the digest it meant today; a modelcar on a full runtime is suspicious. */
function warnAboutBase(base: ResolvedBase, ref: string, mode: ImageMode, log: Logger): void {
  if (!ref.startsWith('sha256:')) {
    log.info(
      `base ${base.source.name}:${ref} resolved to ${base.digest} (a tag can move: name the base by this digest to pin it)`,
    );
  }
  if (mode !== 'modelcar') return;
  const first = base.platforms[0]?.base;
  const size = first?.manifest.layers.reduce((n, l) => n + l.size, 0) ?? 0;
  const entrypoint = first?.config.config?.Entrypoint ?? [];
  if (entrypoint.length > 0 || size > 64 << 20) {
    log.warn(
      `--mode modelcar on ${base.source.name}, which looks like a serving runtime (${entrypoint.length > 0 ? `ENTRYPOINT ${entrypoint.join(' ')}, ` : ''}${humanBytes(size)}): a modelcar holds only the model and runs beside KServe's runtime; use a small shell base such as busybox, or --mode baked`,
    );
  }
}

/** The per-file hashes a previous bake recorded (manifest/index annotations or config labels). */
function filesFromAnnotations(annotations: Record<string, string>): TarFileResult[] {
  try {
    return JSON.parse(annotations[KEY.files] ?? '[]') as TarFileResult[];
  } catch {
    return [];
  }
}

interface PushedImage {
  manifest: ManifestBytes;
  descriptor: Descriptor;
  platform: string;
}

async function pushOnBase(
  target: ImageTarget,
  base: ResolvedBase,
  layer: LayerToAppend,
  edits: ImageEdits,
  compression: Compression,
  log: Logger,
  onProgress: ProgressSink | undefined,
  signal: AbortSignal | undefined,
): Promise<PushedImage[]> {
  const out: PushedImage[] = [];
  // Base layers the target lacks, measured first so the copy can show a total and an ETA.
  const missing = new Map<Digest, Descriptor>();
  for (const p of base.platforms) {
    for (const l of p.base.manifest.layers) {
      if (!missing.has(l.digest) && !(await target.hasBlob(l.digest))) missing.set(l.digest, l);
    }
  }
  const copy = new StageProgress(onProgress, 'base', `base layers from ${base.source.name}`);
  if (missing.size > 0) copy.start([...missing.values()].reduce((n, l) => n + l.size, 0));
  const from: ImageSource = {
    name: base.source.name,
    getManifest: (ref) => base.source.getManifest(ref),
    readBlob: (d, max) => base.source.readBlob(d, max),
    openBlob: async (d) => watched(await base.source.openBlob(d), copy, signal),
  };
  for (const p of base.platforms) {
    const platform = p.platform ?? { architecture: p.base.config.architecture, os: p.base.config.os };
    const name = `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
    for (const l of p.base.manifest.layers) {
      signal?.throwIfAborted();
      if (missing.has(l.digest)) await target.copyBlob(l, from);
    }
    log.debug(`base layers for ${name} present in ${target.name}`);
    copy.end();
    const img = serializeImage(appendLayer(p.base, layer, edits, (f) => layerMediaType(compression, f)));
    out.push(await putImage(target, img, name, p.platform));
  }
  return out;
}

async function pushScratch(
  target: ImageTarget,
  layer: LayerToAppend,
  edits: ImageEdits,
  compression: Compression,
): Promise<PushedImage> {
  const platform = hostPlatform();
  const img = serializeImage(scratchImage(platform, layer, edits, layerMediaType(compression, 'oci')!));
  return putImage(target, img, `${platform.os}/${platform.architecture}`, undefined);
}

async function putImage(
  target: ImageTarget,
  img: ReturnType<typeof serializeImage>,
  name: string,
  platform: Descriptor['platform'],
): Promise<PushedImage> {
  await target.putBlob(img.config.bytes, img.config.descriptor.mediaType);
  await target.putManifest(img.manifest);
  const descriptor: Descriptor = {
    mediaType: img.manifest.mediaType,
    digest: img.manifest.digest,
    size: img.manifest.bytes.length,
  };
  if (platform) descriptor.platform = platform;
  return { manifest: img.manifest, descriptor, platform: name };
}

function tagHeld(
  target: ImageTarget,
  tag: string,
  digest: Digest,
  annotations: Record<string, string>,
): KilnError {
  const what = annotations[KEY.model]
    ? ` (${annotations[KEY.model]} version ${annotations[KEY.modelVersion]})`
    : '';
  return new KilnError(
    'TAG_HELD',
    `tag ${tag} in ${target.name} already points at ${digest}${what}; tags are immutable, so kiln will not move it`,
    {
      kind: 'policy',
      hint: 'bake under another tag (--tag), or pass --force-tag if moving it is really intended',
      details: { tag, digest },
    },
  );
}

/** Every timestamp in the image: SOURCE_DATE_EPOCH when set, else the version's creation time. */
export function bakeMtime(facts: { createdAt: Date }, sourceDateEpoch: number | undefined): number {
  return sourceDateEpoch ?? Math.floor(facts.createdAt.getTime() / 1000);
}
