import type { Config, ImageMode } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { deployInferenceService, deployToGitops, parseIsvcRef } from '../kserve/index.ts';
import { writeManifestFile } from '../kserve/manifest-file.ts';
import { openTarget as openKube } from '../kserve/target.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { MlflowOptions } from '../mlflow/index.ts';
import { setModelVersionTag } from '../mlflow/registry.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageTarget } from '../oci/store.ts';
import { loadPrivateKey, type SigningKey } from '../sign/keys.ts';
import { verifyImageSignatures } from '../sign/verify-image.ts';
import { bake, bakeMtime } from './bake.ts';
import { recordedKeys } from './held.ts';
import { buildFingerprint, KEY } from './labels.ts';
import { type MlflowModel, mlflowModel } from './mlflow-source.ts';
import type { PromoteRequest, PromoteResult } from './promote-types.ts';
import { ScanGate, type ScanSettings, scanSettings, scanTagValue } from './scan-gate.ts';
import { signingHook } from './sign.ts';
import { tagFor } from './tags.ts';
import { openSource, openTarget, parseLocation, specTag } from './targets.ts';

// promote = resolve -> bake -> push -> sign + attest -> deploy -> record (DESIGN.md `pipeline/`).
// Idempotent and resumable: every step converges when run again (bake is a no-op on a tag that
// already holds the same build, signing adds nothing a key already wrote, an identical deploy
// applies nothing), so a promotion killed anywhere is finished by running it again.

/** MLflow version tags kiln writes back, so the MLflow UI shows which image holds each version. */
export const TAGS = {
  image: 'kiln.image',
  digest: 'kiln.digest',
  signed: 'kiln.signed',
  deployedTo: 'kiln.deployed_to',
  /** `passed`, `passed with N warnings`, or `blocked: <first finding>` (docs/scan.md). */
  scan: 'kiln.scan',
  /** The scan policy (ScanGate.fingerprint) `kiln.scan` was decided under. */
  scanPolicy: 'kiln.scan_policy',
} as const;

export interface PromoteSettings {
  target: string;
  base: string | undefined;
  mode: ImageMode;
  compression: 'gzip' | 'zstd' | 'none';
  tag: string;
  signKey: string | undefined;
  deploy: { inferenceService: string; canary: number | undefined; gitops: string | undefined } | undefined;
  /** Where the InferenceService YAML goes when no cluster or GitOps repo is configured. */
  manifestsDir: string;
  kube: { context?: string | undefined; namespace?: string | undefined };
  insecure: string[];
  scan: ScanSettings;
}

export interface PromoteEnv {
  mlflow: MlflowOptions;
  env: NodeJS.ProcessEnv;
  /** Password for an encrypted signing key (COSIGN_PASSWORD, or a prompt the CLI provides). */
  keyPassword: () => Promise<string>;
  sourceDateEpoch: number | undefined;
  log?: Logger;
}

/** Per-model settings: kiln.yaml `models[]` entry over `build`, then explicit overrides (flags). */
export function promoteSettings(
  config: Config,
  name: string,
  flags: Partial<PromoteSettings> = {},
): PromoteSettings {
  const m = config.models.find((x) => x.name === name);
  const b = config.build;
  const pick = <T>(flag: T | undefined, model: T | undefined, build: T): T =>
    flag !== undefined ? flag : model !== undefined ? model : build;
  const d = m?.deploy;
  return {
    target: pick(flags.target, m?.target, b.target),
    base: pick(flags.base, m?.base, b.base),
    mode: pick(flags.mode, m?.mode, b.mode),
    compression: pick(flags.compression, m?.compression, b.compression),
    tag: pick(flags.tag, m?.tag, b.tag),
    signKey: pick(flags.signKey, m?.signKey, b.signKey),
    deploy:
      flags.deploy ??
      (d ? { inferenceService: d.inferenceService, canary: d.canary, gitops: d.gitops } : undefined),
    manifestsDir: flags.manifestsDir ?? './kiln-deploy',
    kube: flags.kube ?? config.kube,
    insecure: config.registry.insecure,
    scan: flags.scan ?? scanSettings(config, name),
  };
}

export async function promote(
  req: PromoteRequest,
  s: PromoteSettings,
  penv: PromoteEnv,
): Promise<PromoteResult> {
  const log = penv.log ?? silentLogger;
  const started = Date.now();
  const uri = req.version
    ? `models:/${req.name}/${req.version}`
    : `models:/${req.name}@${req.alias ?? 'champion'}`;
  const model = await mlflowModel(uri, penv.mlflow, log);
  req.signal?.throwIfAborted();
  const key = s.signKey ? await loadPrivateKey(s.signKey, penv.keyPassword) : undefined;
  const transport = { insecure: s.insecure, log };
  const base = s.base ? await openSource(s.base, transport) : undefined;
  const tag = specTag(s.target) ?? tagFor(s.tag, model.facts);
  const gate = new ScanGate(s.scan, log);
  // A version already refused under this exact policy is refused again without a download
  // (kiln serve retries failed versions on every reconcile; MLflow artifacts are immutable).
  const recorded = model.info.tags[TAGS.scan];
  if (
    recorded?.startsWith('blocked: ') &&
    model.info.tags[TAGS.scanPolicy] === gate.fingerprint &&
    s.scan.mode === 'block'
  ) {
    throw new KilnError(
      'SCAN_BLOCKED',
      `${uri} was blocked by the model security scan under the same policy: ${recorded.slice('blocked: '.length)}`,
      {
        kind: 'policy',
        hint: 'fix the model and log a new version, or allow the global / approve the file in build.scan (docs/scan.md); the next promotion then scans again',
      },
    );
  }
  // What this promotion would build; an image recorded for the version is reused only if it
  // was built the same way (same files, mode, compression, base and timestamps).
  const fingerprint = buildFingerprint({
    facts: model.facts,
    files: model.files,
    mode: s.mode,
    compression: s.compression,
    baseDigest: base ? (await base.source.getManifest(base.ref)).digest : undefined,
    mtime: bakeMtime(model.facts, penv.sourceDateEpoch),
    scan: gate.fingerprint,
  });
  // Opened last: an archive target creates its (partial) file on open.
  const { target } = await openTarget(s.target, transport);

  let image = await recordedImage(model, target, key, fingerprint, log);
  let bytesPushed = 0;
  if (image) {
    log.info(`${uri} is already baked as ${image.reference}${key ? ' and signed' : ''}: no upload`);
  } else {
    const baked = await bake({
      scan: gate,
      model,
      target,
      base,
      mode: s.mode,
      compression: s.compression,
      tag,
      forceTag: false,
      sourceDateEpoch: penv.sourceDateEpoch,
      beforeTag: key
        ? signingHook(
            key,
            {
              modelUri: uri,
              trackingUri: penv.mlflow.trackingUri,
              alias: model.facts.alias,
              sourceUri: model.facts.source,
              target: s.target,
              mode: s.mode,
              compression: s.compression,
              base: s.base,
            },
            { log },
          )
        : undefined,
      log,
    }).catch(async (e: unknown) => {
      // A blocked model leaves nothing deployable; MLflow shows why next to the version.
      if (gate.reports.length > 0 && s.scan.mode !== 'off')
        await writeBack(model, {
          [TAGS.scan]: scanTagValue(gate.reports, s.scan.mode),
          [TAGS.scanPolicy]: gate.fingerprint,
        }).catch(() => {});
      throw e;
    });
    image = { digest: baked.digest, reference: baked.reference };
    bytesPushed = baked.reused ? 0 : (baked.layer?.size ?? 0);
    // Record the image before deploying: a promotion killed after this point resumes at deploy.
    await writeBack(model, {
      [TAGS.image]: image.reference,
      [TAGS.digest]: image.digest,
      [TAGS.signed]: String(key !== undefined),
      ...(s.scan.mode !== 'off' && gate.reports.length > 0
        ? { [TAGS.scan]: scanTagValue(gate.reports, s.scan.mode) }
        : {}),
    });
  }

  req.signal?.throwIfAborted();
  const deployedTo = await deploy(model, image, s, penv, log);
  if (deployedTo && model.info.tags[TAGS.deployedTo] !== deployedTo)
    await writeBack(model, { [TAGS.deployedTo]: deployedTo });
  return {
    name: model.facts.name,
    version: model.facts.version,
    digest: image.digest,
    reference: image.reference,
    signed: key !== undefined,
    deployedTo,
    reused: bytesPushed === 0,
    bytesPushed,
    durationMs: Date.now() - started,
  };
}

/**
 * The fast path: MLflow already records a digest for this version, the target holds it and (when
 * signing) a signature by this key exists. Then nothing is downloaded or uploaded.
 */
async function recordedImage(
  model: MlflowModel,
  target: ImageTarget,
  key: SigningKey | undefined,
  fingerprint: string,
  log: Logger,
): Promise<{ digest: Digest; reference: string } | undefined> {
  const digest = model.info.tags[TAGS.digest] as Digest | undefined;
  const reference = model.info.tags[TAGS.image];
  if (!digest || !reference || reference !== target.pinned(digest)) return undefined;
  try {
    const held = await target.getManifest(digest);
    if ((await recordedKeys(target, held))[KEY.build] !== fingerprint) {
      log.info(`${reference} was built with other settings (mode, compression, base or files): baking again`);
      return undefined;
    }
    if (key) await verifyImageSignatures(target, digest, key);
    return { digest, reference };
  } catch (e) {
    log.debug(`recorded image ${reference} cannot be reused (${(e as Error).message}); baking`);
    return undefined;
  }
}

async function deploy(
  model: MlflowModel,
  image: { digest: Digest; reference: string },
  s: PromoteSettings,
  penv: PromoteEnv,
  log: Logger,
): Promise<string | undefined> {
  const loc = parseLocation(s.target);
  const req = {
    image: image.reference,
    mode: s.mode,
    model: { name: model.facts.name, version: model.facts.version },
  };
  if (loc.kind !== 'registry') {
    // A layout or archive has no pullable name; the YAML names the digest under localhost/ until
    // it is copied to a registry (skopeo copy --preserve-digests keeps the digest).
    const ref = parseIsvcRef(s.deploy?.inferenceService ?? `default/${k8sName(model.facts.name)}`, []);
    const localRef = `localhost/kiln/${k8sName(model.facts.name)}@${image.digest}`;
    const out = await writeManifestFile(s.manifestsDir, ref, {
      ...req,
      image: localRef,
      canaryPercent: s.deploy?.canary,
    });
    log.info(`wrote ${out.path} (apply it once the image is in a registry)`);
    return out.path;
  }
  if (!s.deploy) {
    const ref = parseIsvcRef(`default/${k8sName(model.facts.name)}`, []);
    const out = await writeManifestFile(s.manifestsDir, ref, req);
    log.info(`no deploy target configured: wrote ${out.path}`);
    return out.path;
  }
  if (s.deploy.gitops) {
    const ref = parseIsvcRef(s.deploy.inferenceService, []);
    const out = await deployToGitops(
      s.deploy.gitops,
      { ...ref, ...req, canaryPercent: s.deploy.canary },
      log,
      { env: penv.env },
    );
    return out.path;
  }
  const { kube, ref } = await openKube({ isvc: s.deploy.inferenceService, config: s.kube, env: penv.env });
  await deployInferenceService(kube, { ...ref, ...req, canaryPercent: s.deploy.canary }, log);
  return `${ref.namespace}/${ref.name}`;
}

/**
 * An MLflow model name as a Kubernetes object name (RFC 1123 label: lowercase alphanumerics and
 * '-', at most 63): MLflow names often hold '_', '.' or spaces, which an InferenceService cannot.
 */
export function k8sName(modelName: string): string {
  const name = modelName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return name || 'model';
}

async function writeBack(model: MlflowModel, tags: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(tags)) {
    await setModelVersionTag(model.client, model.facts.name, model.facts.version, k, v).catch(
      (e: unknown) => {
        throw new KilnError(
          'MLFLOW_WRITE_BACK_FAILED',
          `could not record ${k} on ${model.facts.name} version ${model.facts.version}: ${(e as Error).message}`,
          {
            cause: e,
            hint: 'the image is pushed; run kiln promote again to record it (it will not rebuild)',
          },
        );
      },
    );
  }
}
