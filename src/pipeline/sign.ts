import { randomUUID } from 'node:crypto';
import type { Compression, ImageMode } from '../config/schema.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { modelDirFor } from '../oci/layer/paths.ts';
import type { ImageTarget } from '../oci/store.ts';
import type { AttachResult } from '../sign/attach.ts';
import type { SigningKey } from '../sign/keys.ts';
import { type ProvenanceInput, provenancePayload, SLSA_PROVENANCE_V1 } from '../sign/provenance.ts';
import { attestImage, signImage } from '../sign/sign-image.ts';
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
  signature: AttachResult;
  attestation: AttachResult;
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
  opts: { startedOn: Date; log?: Logger },
): Promise<SignedBake> {
  const log = opts.log ?? silentLogger;
  const identity = signedIdentity(target, image.model.name);
  const digest: Digest = image.digest;
  const signature = await signImage(target, { digest, key, dockerReference: identity, log });
  const statement = provenancePayload(
    bakeProvenance(image, identity, facts, {
      invocationId: randomUUID(),
      startedOn: opts.startedOn,
      finishedOn: new Date(),
    }),
  );
  const attestation = await attestImage(target, {
    digest,
    key,
    statement,
    predicateType: SLSA_PROVENANCE_V1,
    once: true,
    log,
  });
  log.info(
    `${signature.added || attestation.added ? 'signed and attested' : 'already signed and attested'} ${target.pinned(digest)} with ${key.source}`,
  );
  return { signature, attestation };
}

/** The bake `beforeTag` hook; `onSigned` receives what was written (for the command's result). */
export function signingHook(
  key: SigningKey,
  facts: BakeFacts,
  opts: { log?: Logger; onSigned?: (s: SignedBake) => void } = {},
): (image: PushedBake, target: ImageTarget) => Promise<void> {
  const startedOn = new Date();
  return async (image, target) => {
    const signed = await signBake(target, image, key, facts, { startedOn, log: opts.log });
    opts.onSigned?.(signed);
  };
}
