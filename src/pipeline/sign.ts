import { randomUUID } from 'node:crypto';
import type { Compression, ImageMode } from '../config/schema.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { modelDirFor } from '../oci/layer/paths.ts';
import type { ImageTarget } from '../oci/store.ts';
import type { AttachResult } from '../sign/attach.ts';
import type { AttachedBundles, BundleStatement } from '../sign/bundle-image.ts';
import type { SigningKey } from '../sign/keys.ts';
import { type ProvenanceInput, provenancePayload, SLSA_PROVENANCE_V1 } from '../sign/provenance.ts';
import { type SignatureFormat, signInFormats } from '../sign/sign-formats.ts';
import type { PushedBake } from './bake.ts';
import { signedIdentity } from './signable.ts';

// The `sign` stage of a bake (DESIGN.md: image -> registry -> signature): bake's beforeTag hook
// signs the stored digest and attests its SLSA provenance, in the same target, before the tag
// is written. The provenance is built from plain values handed over here; the MLflow token,
// basic-auth password and key password never reach this module (URIs are redacted again in
// sign/provenance.ts, belt and braces).

/** What the user asked for and what MLflow said: the inputs a reviewer needs, and nothing secret. */
export interface BakeFacts {
  /** As typed: `models:/NAME@ALIAS` or `models:/NAME/VERSION`. */
  modelUri: string;
  /** MLFLOW_TRACKING_URI (credentials stripped by the provenance builder). */
  trackingUri: string;
  alias: string | undefined;
  /** The version's MLflow `source`. */
  sourceUri: string;
  /** The target as typed (`host/repo`, `oci:DIR`, `oci-archive:FILE`). */
  target: string;
  mode: ImageMode;
  compression: Compression;
  /** The base as typed, when there is one; its digest comes from the bake. */
  base: string | undefined;
  builderId?: string | undefined;
}

export interface SignedBake {
  format: SignatureFormat;
  /** The classic .sig / .att (format classic or both). */
  signature?: AttachResult | undefined;
  attestation?: AttachResult | undefined;
  /** The Sigstore bundles as referrers (format bundle or both). */
  bundles?: AttachedBundles | undefined;
}

export interface SignBakeOptions {
  startedOn: Date;
  /** Default both: classic tags and Sigstore bundles. */
  format?: SignatureFormat | undefined;
  /**
   * More attestations about the image besides the SLSA provenance (e.g. a model scan result):
   * any predicate type, written in every format the provenance is.
   */
  attestations?: ((image: PushedBake, identity: string) => BundleStatement[]) | undefined;
  log?: Logger | undefined;
}

/** Layer paths (`mnt/models/x`) back to paths inside the model directory (`x`). */
export function modelPaths(files: PushedBake['files'], mode: ImageMode): { path: string; sha256: string }[] {
  const prefix = `${modelDirFor(mode)}/`;
  return files.map((f) => ({
    path: f.path.startsWith(prefix) ? f.path.slice(prefix.length) : f.path,
    sha256: f.sha256,
  }));
}

export function bakeProvenance(
  image: PushedBake,
  identity: string,
  facts: BakeFacts,
  times: { invocationId: string; startedOn: Date; finishedOn: Date },
): ProvenanceInput {
  return {
    image: { name: identity, digest: image.digest },
    modelUri: facts.modelUri,
    mlflow: {
      trackingUri: facts.trackingUri,
      modelName: image.model.name,
      version: image.model.version,
      alias: facts.alias,
      runId: image.model.runId,
      sourceUri: facts.sourceUri,
    },
    files: modelPaths(image.files, facts.mode),
    build: {
      target: facts.target,
      mode: facts.mode,
      compression: facts.compression,
      base:
        image.baseDigest && facts.base !== undefined
          ? { ref: facts.base, digest: image.baseDigest }
          : undefined,
    },
    builderId: facts.builderId,
    scan: image.scan,
    ...times,
  };
}

/** Sign + attest `digest` in `target` (idempotent: a re-run adds nothing this key already wrote). */
export async function signBake(
  target: ImageTarget,
  image: PushedBake,
  key: SigningKey,
  facts: BakeFacts,
  opts: SignBakeOptions,
): Promise<SignedBake> {
  const log = opts.log ?? silentLogger;
  const format = opts.format ?? 'both';
  const identity = signedIdentity(target, image.model.name);
  const digest: Digest = image.digest;
  const statement = provenancePayload(
    bakeProvenance(image, identity, facts, {
      invocationId: randomUUID(),
      startedOn: opts.startedOn,
      finishedOn: new Date(),
    }),
  );
  const out = await signInFormats(target, {
    subject: { mediaType: image.mediaType, digest, size: image.size },
    key,
    format,
    sign: true,
    dockerReference: identity,
    attestations: [
      { statement, predicateType: SLSA_PROVENANCE_V1, once: true },
      ...(opts.attestations?.(image, identity) ?? []),
    ],
    log,
  });
  const added =
    out.signature?.added ||
    out.attestations.some((a) => a.added) ||
    out.bundles?.bundles.some((b) => b.added);
  log.info(
    `${added ? 'signed and attested' : 'already signed and attested'} ${target.pinned(digest)} with ${key.source} (${format})`,
  );
  return { format, signature: out.signature, attestation: out.attestations[0], bundles: out.bundles };
}

/** The bake `beforeTag` hook; `onSigned` receives what was written (for the command's result). */
export function signingHook(
  key: SigningKey,
  facts: BakeFacts,
  opts: Omit<SignBakeOptions, 'startedOn'> & { onSigned?: (s: SignedBake) => void } = {},
): (image: PushedBake, target: ImageTarget) => Promise<void> {
  const startedOn = new Date();
  return async (image, target) => {
    const signed = await signBake(target, image, key, facts, { ...opts, startedOn });
    opts.onSigned?.(signed);
  };
}
