import type { Config, ImageMode } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { deployInferenceService, deployToGitops } from '../kserve/index.ts';
import { writeManifestFile } from '../kserve/manifest-file.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { MlflowOptions } from '../mlflow/index.ts';
import { setModelVersionTag } from '../mlflow/registry.ts';
import { deleteModelVersionTag } from '../mlflow/search.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageTarget } from '../oci/store.ts';
import { humanBytes, type ProgressSink } from '../progress.ts';
import { loadPrivateKey, loadPublicKey, type SigningKey, type VerifyKey } from '../sign/keys.ts';
import type { SignatureFormat } from '../sign/sign-formats.ts';
import { verifyImage } from '../sign/verify.ts';
import { bake, bakeMtime } from './bake.ts';
import { type DeployPlan, k8sName, planDeploy } from './deploy-plan.ts';
import { recordedKeys } from './held.ts';
import { buildFingerprint, KEY } from './labels.ts';
import { type MlflowModel, mlflowModel } from './mlflow-source.ts';
import { preflight } from './preflight.ts';
import type { PromoteRequest, PromoteResult } from './promote-types.ts';
import { ScanGate, type ScanSettings, scanSettings, scanTagValue } from './scan-gate.ts';
import { signingHook } from './sign.ts';
import { StageClock, teeLogger, timedModel, timedTarget } from './stages.ts';
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
  signatureFormat: SignatureFormat;
  deploy: { inferenceService: string; canary: number | undefined; gitops: string | undefined } | undefined;
  /** Where the InferenceService YAML goes when no cluster or GitOps repo is configured. */
  manifestsDir: string;
  /** --manifests DIR: write the YAML there instead of applying it, even with a deploy target. */
  manifests?: string | undefined;
  /** --canary without --deploy: honoured in the YAML written. */
  canary?: number | undefined;
  /** Write kiln.* tags to MLflow (default: only when the image goes to a registry). */
  record?: boolean | undefined;
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
  /** Byte counts while baking (see bake's onProgress). */
  onProgress?: ProgressSink;
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
    signatureFormat: pick(flags.signatureFormat, m?.signatureFormat, b.signatureFormat),
    deploy:
      flags.deploy ??
      (d ? { inferenceService: d.inferenceService, canary: d.canary, gitops: d.gitops } : undefined),
    manifestsDir: flags.manifestsDir ?? './kiln-deploy',
    manifests: flags.manifests,
    canary: flags.canary,
    record: flags.record,
    kube: flags.kube ?? config.kube,
    insecure: config.registry.insecure,
    scan: flags.scan ?? scanSettings(config, name),
  };
}

/** Everything decided before any byte moves: model, key, base, tag, deployment (all checked). */
async function prepare(
  req: PromoteRequest,
  s: PromoteSettings,
  penv: PromoteEnv,
  log: Logger,
  dryRun: boolean,
) {
  const uri = req.version
    ? `models:/${req.name}/${req.version}`
    : `models:/${req.name}@${req.alias ?? 'champion'}`;
  preflight({ target: s.target, base: s.base, mode: s.mode, tag: s.tag });
  const model = await mlflowModel(uri, penv.mlflow, log);
  req.signal?.throwIfAborted();
  // The private key (and its password) is loaded only when something will be signed; a version
  // already baked and signed is checked with the public key beside it (cosign's KEY.pub), so a
  // re-run asks for no password. A dry run signs nothing.
  const publicKey = s.signKey && !dryRun ? await publicKeyBeside(s.signKey) : undefined;
  const transport = { insecure: s.insecure, log };
  const base = s.base ? await openSource(s.base, transport) : undefined;
  const baseDigest = base ? (await base.source.getManifest(base.ref)).digest : undefined;
  const tag = specTag(s.target) ?? tagFor(s.tag, model.facts);
  const inRegistry = parseLocation(s.target).kind === 'registry';
  const plan = await planDeploy(
    {
      inferenceService: s.deploy?.inferenceService,
      gitops: s.deploy?.gitops,
      canary: s.deploy?.canary ?? s.canary,
      manifests: s.manifests,
      defaultManifests: s.manifestsDir,
      kube: s.kube,
    },
    model.facts.name,
    inRegistry,
    penv.env,
  );
  // Local-only runs (oci:, oci-archive:) keep this machine's paths out of the shared MLflow.
  const record = s.record ?? inRegistry;
  if (!s.base) log.warn('no --base: the image holds only the model files, no serving runtime to run them');
  if (!s.signKey && inRegistry) log.warn('the image will not be signed (no --sign-key or build.signKey)');
  return { uri, model, publicKey, base, baseDigest, tag, plan, record, transport };
}

/** `KEY.pub` beside `KEY.key` (what cosign generate-key-pair and kiln keygen write), if readable. */
async function publicKeyBeside(keyFile: string): Promise<VerifyKey | undefined> {
  const pub = keyFile.replace(/\.key$/, '') + '.pub';
  return pub === keyFile ? undefined : loadPublicKey(pub).catch(() => undefined);
}

/** `kiln promote --dry-run`: what would happen, with every destination checked; nothing moves. */
export async function planPromotion(
  req: PromoteRequest,
  s: PromoteSettings,
  penv: PromoteEnv,
): Promise<string[]> {
  const log = penv.log ?? silentLogger;
  const p = await prepare(req, s, penv, log, true);
  const size = p.model.files.reduce((n, f) => n + f.size, 0);
  const recorded = p.model.info.tags[TAGS.image];
  const steps = [
    `resolve ${p.uri} -> version ${p.model.facts.version} (${p.model.files.length} files, ${humanBytes(size)})`,
    recorded
      ? `bake into ${s.target} as tag ${p.tag} unless ${recorded} (recorded in MLflow) is present and built the same way`
      : `bake onto ${s.base ? `${s.base}${p.baseDigest ? ` (${p.baseDigest})` : ''}` : 'no base (model files only)'} into ${s.target} as tag ${p.tag} (${s.mode}, ${s.compression})`,
    s.signKey ? `sign and attest with ${s.signKey}` : 'not signed (no --sign-key)',
    describePlan(p.plan),
    p.record
      ? `record ${Object.values(TAGS).join(', ')} on ${p.model.facts.name} version ${p.model.facts.version} in MLflow`
      : 'record nothing in MLflow (the image stays on this machine; pass --record to record it)',
  ];
  return steps;
}

function describePlan(plan: DeployPlan): string {
  const canary = plan.canary !== undefined ? ` as a ${plan.canary}% canary` : '';
  const isvc = `${plan.ref.namespace}/${plan.ref.name}`;
  switch (plan.kind) {
    case 'cluster':
      return `deploy InferenceService ${isvc}${canary} on ${plan.kube.server}`;
    case 'gitops':
      return `write InferenceService ${isvc}${canary} into the GitOps repository at ${plan.dir} and commit it`;
    case 'yaml':
      return `write InferenceService ${isvc}${canary} to ${plan.dir}/${plan.ref.namespace}/${plan.ref.name}.yaml (not applied)`;
  }
}

export async function promote(
  req: PromoteRequest,
  s: PromoteSettings,
  penv: PromoteEnv,
): Promise<PromoteResult> {
  const log = teeLogger(penv.log ?? silentLogger, req.observer);
  const clock = new StageClock(req.observer);
  const started = Date.now();
  try {
    return await promoteTimed(req, s, penv, log, clock, started);
  } catch (e) {
    clock.failOpen(e);
    throw e;
  }
}

async function promoteTimed(
  req: PromoteRequest,
  s: PromoteSettings,
  penv: PromoteEnv,
  log: Logger,
  clock: StageClock,
  started: number,
): Promise<PromoteResult> {
  clock.start('resolve');
  const prepared = await prepare(req, s, penv, log, false);
  const { uri, publicKey, base, baseDigest, tag, plan, record, transport } = prepared;
  const model = timedModel(prepared.model, clock);
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
    baseDigest,
    mtime: bakeMtime(model.facts, penv.sourceDateEpoch),
    scan: gate.fingerprint,
  });
  // Opened last: an archive target creates its (partial) file on open.
  const timed = timedTarget((await openTarget(s.target, transport)).target, clock);
  const target = timed.target;
  const modelBytes = model.files.reduce((n, f) => n + f.size, 0);
  clock.end('resolve', {
    bytes: modelBytes,
    detail: `version ${model.facts.version}, ${model.files.length} files`,
  });

  const signed = s.signKey !== undefined;
  let key: SigningKey | undefined;
  const loadKey = async (): Promise<SigningKey | undefined> => {
    if (s.signKey && !key) key = await loadPrivateKey(s.signKey, penv.keyPassword);
    return key;
  };
  // Without a public key file the fast path needs the private key to check the signature.
  let image = await recordedImage(
    model,
    target,
    publicKey ?? (await loadKey()),
    signed,
    s.signatureFormat,
    fingerprint,
    log,
  );
  let bytesPushed = 0;
  if (image) {
    log.info(`${uri} is already baked as ${image.reference}${signed ? ' and signed' : ''}: no upload`);
    for (const stage of ['download', 'bake', 'push', 'sign'] as const) clock.skip(stage, 'image reused');
  } else {
    // The key (and its password) before anything is pushed: a wrong password must fail first.
    const signingKey = await loadKey();
    const hook = signingKey
      ? signingHook(
          signingKey,
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
          { log, format: s.signatureFormat },
        )
      : undefined;
    clock.start('bake');
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
      beforeTag: async (pushed, t) => {
        clock.end('push', { bytes: timed.pushed() });
        clock.end('bake', { bytes: pushed.layer?.size, detail: `${s.mode}, ${s.compression}` });
        if (!hook) return clock.skip('sign', 'no signing key');
        timed.signing(true);
        await clock.run(
          'sign',
          () => hook(pushed, t),
          () => ({ detail: 'signature + SLSA provenance' }),
        );
        timed.signing(false);
      },
      log,
      ...(penv.onProgress ? { onProgress: penv.onProgress } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    }).catch(async (e: unknown) => {
      // A blocked model leaves nothing deployable; MLflow shows why next to the version.
      if (record && gate.reports.length > 0 && s.scan.mode !== 'off')
        await writeBack(model, {
          [TAGS.scan]: scanTagValue(gate.reports, s.scan.mode),
          [TAGS.scanPolicy]: gate.fingerprint,
        }).catch(() => {});
      throw e;
    });
    // A re-bake the tag already held skips the upload; the hook above closed the spans either way.
    clock.end('push', { bytes: timed.pushed() });
    clock.end('bake', { bytes: baked.layer?.size });
    image = { digest: baked.digest, reference: baked.reference };
    bytesPushed = baked.reused ? 0 : (baked.layer?.size ?? 0);
    // Record the image before deploying: a promotion killed after this point resumes at deploy.
    if (record) {
      await writeBack(model, {
        [TAGS.image]: image.reference,
        [TAGS.digest]: image.digest,
        [TAGS.signed]: String(signed),
        ...(s.scan.mode !== 'off' && gate.reports.length > 0
          ? { [TAGS.scan]: scanTagValue(gate.reports, s.scan.mode) }
          : {}),
      });
      // A deployment recorded for another image of this version no longer describes this one.
      const before = model.info.tags[TAGS.image];
      if (model.info.tags[TAGS.deployedTo] !== undefined && before !== image.reference) {
        await deleteModelVersionTag(model.client, model.facts.name, model.facts.version, TAGS.deployedTo);
        delete model.info.tags[TAGS.deployedTo];
      }
    }
  }

  req.signal?.throwIfAborted();
  const pinned = image;
  const deployedTo = await clock.run(
    'deploy',
    () => deploy(model, pinned, s, plan, penv, log),
    (to) => ({ detail: to }),
  );
  // Only a deployment that happened is recorded: YAML written to a folder is not one.
  if (record && plan.kind !== 'yaml' && deployedTo && model.info.tags[TAGS.deployedTo] !== deployedTo)
    await writeBack(model, { [TAGS.deployedTo]: deployedTo });
  return {
    name: model.facts.name,
    version: model.facts.version,
    digest: image.digest,
    reference: image.reference,
    signed,
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
  key: VerifyKey | undefined,
  signing: boolean,
  format: SignatureFormat,
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
    // Signed in every format this promotion would write, or it is signed again (idempotently).
    if (signing) {
      if (!key) return undefined;
      await verifyImage(target, digest, key, { format });
    }
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
  plan: DeployPlan,
  penv: PromoteEnv,
  log: Logger,
): Promise<string | undefined> {
  const req = {
    image: image.reference,
    mode: s.mode,
    model: { name: model.facts.name, version: model.facts.version },
    canaryPercent: plan.canary,
  };
  switch (plan.kind) {
    case 'yaml': {
      // A layout or archive has no pullable name; the YAML names the digest under localhost/
      // until it is copied to a registry (skopeo copy --preserve-digests keeps the digest).
      const localRef = `localhost/kiln/${k8sName(model.facts.name)}@${image.digest}`;
      const out = await writeManifestFile(plan.dir, plan.ref, {
        ...req,
        image: plan.pullable ? image.reference : localRef,
      });
      if (plan.pullable)
        log.info(`wrote ${out.path} (not applied: kubectl apply -f it, or pass --deploy ns/name)`);
      else
        log.warn(
          `wrote ${out.path}, naming ${localRef}, which no cluster can pull: copy the image to a registry first (skopeo copy --preserve-digests ${image.reference} docker://REGISTRY/REPO) and set that name, or promote --to a registry`,
        );
      return out.path;
    }
    case 'gitops': {
      const out = await deployToGitops(plan.dir, { ...plan.ref, ...req }, log, { env: penv.env });
      return out.path;
    }
    case 'cluster':
      await deployInferenceService(plan.kube, { ...plan.ref, ...req }, log);
      return `${plan.ref.namespace}/${plan.ref.name}`;
  }
}

export { k8sName } from './deploy-plan.ts';

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
