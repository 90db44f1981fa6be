import { z } from 'zod';
import { RolloutPartialSchema } from './rollout.ts';

// One schema for kiln.yaml, environment and flags. Every default is set (and explained) here,
// once; the rest of kiln reads a fully resolved Config and never re-derives defaults.

export const CompressionSchema = z.enum(['gzip', 'zstd', 'none']);
export const ModeSchema = z.enum(['baked', 'modelcar']);
/** classic = cosign's .sig/.att tags (cosign v2, policy-controller); bundle = Sigstore bundles as OCI referrers (cosign v3, Kyverno SigstoreBundle); both = each. */
export const SignatureFormatSchema = z.enum(['classic', 'bundle', 'both']);
const compression = CompressionSchema;
const mode = ModeSchema;

/** The model security gate (docs/scan.md). */
export const ScanSchema = z
  .object({
    /** block: a finding stops the bake (exit 3); warn: report and go on; off: no scan (not recommended). */
    mode: z.enum(['block', 'warn', 'off']).default('block'),
    /** Extra globals to allow: `module:qualname`, or {global, roles} to allow only some roles. */
    allow: z
      .array(
        z.union([
          z.string().min(3),
          z
            .object({
              global: z.string().min(3),
              roles: z
                .array(z.enum(['reduce', 'newobj', 'argument', 'build']))
                .min(1)
                .optional(),
            })
            .strict(),
        ]),
      )
      .default([]),
    /** sha256 of files approved whatever they hold (e.g. a reviewed model with by-value code). */
    approve: z
      .array(z.string().regex(/^(sha256:)?[a-f0-9]{64}$/, 'expected a sha256 hex digest'))
      .default([]),
  })
  .strict();

export const BuildSchema = z
  .object({
    /** Where images go. `oci:DIR` needs no server, so it is the default when nothing is configured. */
    target: z.string().min(1).default('oci:./kiln-images'),
    /** Base image to bake onto; none means a model-only image (fine for oci: layouts and modelcars). */
    base: z.string().min(1).optional(),
    mode: mode.default('baked'),
    /** gzip is what every runtime reads; zstd is ~25x faster on weights that barely compress. */
    compression: compression.default('gzip'),
    /** Tag template; `{version}` is the MLflow model version. Tags are immutable once pushed. */
    tag: z.string().min(1).default('v{version}'),
    /** cosign-compatible private key; when set, bake also signs and attests. */
    signKey: z.string().min(1).optional(),
    /** Both formats by default: every 2026 verifier reads one of them (docs/signing.md). */
    signatureFormat: SignatureFormatSchema.default('both'),
    /** Model security gate; absent = block with the shipped allowlist packs. */
    scan: ScanSchema.optional(),
  })
  .strict();

export const MlflowSchema = z
  .object({
    /** Overridden by MLFLOW_TRACKING_URI, as MLflow's own clients do. */
    trackingUri: z.string().url().optional(),
  })
  .strict();

export const RegistrySchema = z
  .object({
    /** Registries spoken to over plain HTTP (127.0.0.1 and localhost are always allowed to). */
    insecure: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const KubeSchema = z
  .object({
    context: z.string().min(1).optional(),
    namespace: z.string().min(1).optional(),
  })
  .strict();

const NS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Where and how a promoted version is deployed. */
export const DeploySchema = z
  .object({
    /** `namespace/name` of the InferenceService. */
    inferenceService: z.string().regex(NS_NAME, 'expected namespace/name, e.g. prod/risk-classifier'),
    /** Traffic share for the new revision; omitted = full rollout. */
    canary: z.number().int().min(0).max(100).optional(),
    /** Write the InferenceService YAML into this git work tree instead of applying it. */
    gitops: z.string().min(1).optional(),
  })
  .strict();

/** One watched model: which alias promotes, and per-model overrides of `build`. */
export const WatchedModelSchema = z
  .object({
    name: z.string().min(1),
    alias: z.string().min(1).default('champion'),
    target: z.string().min(1).optional(),
    base: z.string().min(1).optional(),
    mode: mode.optional(),
    compression: compression.optional(),
    tag: z.string().min(1).optional(),
    signKey: z.string().min(1).optional(),
    signatureFormat: SignatureFormatSchema.optional(),
    /** Per-model scan settings: mode overrides build.scan.mode, allow/approve add to build.scan's. */
    scan: ScanSchema.partial().optional(),
    deploy: DeploySchema.optional(),
    /** Canary analysis policy for this model, over the top-level `rollout` (docs/analysis.md). */
    rollout: RolloutPartialSchema.optional(),
  })
  .strict();

export const ServerSchema = z
  .object({
    /** host:port for the webhook receiver, health and metrics. */
    listen: z.string().min(1).default('127.0.0.1:8080'),
    /** Seconds between alias reconciliations (MLflow drops webhooks after 3 failed retries). */
    reconcileInterval: z.number().positive().default(60),
    /** Reject webhook deliveries whose signed timestamp is older (or newer) than this many seconds. */
    maxSkew: z.number().int().positive().default(300),
    /** Durable queue, history and dedupe state (SQLite). */
    stateDir: z.string().min(1).default('./.kiln'),
    /** inline: promote in this process; job: hand each promotion to a Kubernetes Job running `kiln promote`. */
    executor: z.enum(['inline', 'job']).default('inline'),
    job: z
      .object({
        namespace: z.string().min(1),
        image: z.string().min(1),
        serviceAccount: z.string().min(1).optional(),
        /** Secrets the Job's pod gets as environment (e.g. MLFLOW_TRACKING_TOKEN, COSIGN_PASSWORD). */
        envFromSecrets: z.array(z.string().min(1)).optional(),
        /** ConfigMap with the kiln.yaml `kiln promote` reads in the Job. */
        configMap: z.string().min(1).optional(),
        /** kubernetes.io/dockerconfigjson Secret for the registry. */
        registrySecret: z.string().min(1).optional(),
        /** Secret with the `cosign.key` to sign with. */
        signingKeySecret: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const ConfigSchema = z
  .object({
    mlflow: MlflowSchema.default({}),
    registry: RegistrySchema.default({ insecure: [] }),
    build: BuildSchema.default({
      target: 'oci:./kiln-images',
      mode: 'baked',
      compression: 'gzip',
      tag: 'v{version}',
      signatureFormat: 'both',
    }),
    kube: KubeSchema.default({}),
    /** Models `kiln serve` watches and `kiln promote` reads per-model settings from. */
    models: z.array(WatchedModelSchema).default([]),
    /** Canary analysis defaults for every model (docs/analysis.md); absent = no automatic analysis in kiln serve. */
    rollout: RolloutPartialSchema.optional(),
    server: ServerSchema.default({
      listen: '127.0.0.1:8080',
      reconcileInterval: 60,
      maxSkew: 300,
      stateDir: './.kiln',
      executor: 'inline',
    }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, m] of c.models.entries()) {
      if (seen.has(m.name))
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'name'],
          message: `model "${m.name}" is listed twice`,
        });
      seen.add(m.name);
    }
    if (c.server.executor === 'job' && !c.server.job) {
      ctx.addIssue({
        code: 'custom',
        path: ['server', 'job'],
        message: 'executor "job" needs server.job (namespace, image)',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type BuildConfig = z.infer<typeof BuildSchema>;
export type WatchedModel = z.infer<typeof WatchedModelSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type DeployConfig = z.infer<typeof DeploySchema>;
export type Compression = z.infer<typeof compression>;
export type ImageMode = z.infer<typeof mode>;
export type SignatureFormatSetting = z.infer<typeof SignatureFormatSchema>;
export type ScanConfig = z.infer<typeof ScanSchema>;
