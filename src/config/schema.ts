import { z } from 'zod';

// One schema for kiln.yaml, environment and flags. Every default is set (and explained) here,
// once; the rest of kiln reads a fully resolved Config and never re-derives defaults.

export const CompressionSchema = z.enum(['gzip', 'zstd', 'none']);
export const ModeSchema = z.enum(['baked', 'modelcar']);
const compression = CompressionSchema;
const mode = ModeSchema;

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

export const ConfigSchema = z
  .object({
    mlflow: MlflowSchema.default({}),
    registry: RegistrySchema.default({ insecure: [] }),
    build: BuildSchema.default({
      target: 'oci:./kiln-images',
      mode: 'baked',
      compression: 'gzip',
      tag: 'v{version}',
    }),
    kube: KubeSchema.default({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type BuildConfig = z.infer<typeof BuildSchema>;
export type Compression = z.infer<typeof compression>;
export type ImageMode = z.infer<typeof mode>;
