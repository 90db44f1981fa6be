// The shapes kiln reads from MLflow's REST API (mlflow/protos/model_registry.proto, service.proto)
// and the values it hands to the rest of kiln. Responses are checked, not trusted: a field kiln
// depends on that is missing or mistyped becomes MLFLOW_RESPONSE_INVALID, never `undefined` later.
import { z } from 'zod';
import { type MlflowErrorContext, mlflowBadResponse } from './errors.ts';

/** proto int64 may arrive as a JSON number or a decimal string. */
const int64 = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);

export const ModelVersionJson = z.object({
  name: z.string(),
  version: z.string().min(1),
  creation_timestamp: int64,
  source: z.string(),
  run_id: z.string().optional(),
  model_id: z.string().optional(),
  description: z.string().optional(),
  status: z.string().optional(),
  tags: z.array(z.object({ key: z.string(), value: z.string().default('') })).optional(),
  aliases: z.array(z.string()).optional(),
});
export type ModelVersionJson = z.infer<typeof ModelVersionJson>;

export const ModelVersionResponse = z.object({ model_version: ModelVersionJson });

export const RegisteredModelResponse = z.object({
  registered_model: z.object({
    name: z.string(),
    aliases: z.array(z.object({ alias: z.string(), version: z.string() })).optional(),
    latest_versions: z.array(ModelVersionJson).optional(),
  }),
});

export const DownloadUriResponse = z.object({ artifact_uri: z.string().min(1) });
export const RunResponse = z.object({
  run: z.object({ info: z.object({ artifact_uri: z.string().min(1) }) }),
});
export const LoggedModelResponse = z.object({
  model: z.object({ info: z.object({ artifact_uri: z.string().min(1) }) }),
});

/** One registered model version, as the rest of kiln sees it. */
export interface ModelVersionInfo {
  name: string;
  version: string;
  /** The alias it was resolved through, when it was. */
  alias?: string | undefined;
  runId?: string | undefined;
  /** Where MLflow says the files came from: `models:/m-<id>`, `runs:/<run>/<path>`, a URI... */
  source: string;
  /** The MLflow 3 LoggedModel id (`m-...`), from the response or parsed from `source`. */
  modelId?: string | undefined;
  createdAt: Date;
  description?: string | undefined;
  /** READY, PENDING_REGISTRATION or FAILED_REGISTRATION. */
  status?: string | undefined;
  tags: Record<string, string>;
  aliases: string[];
}

/** One file of a model directory; `path` is relative to it, `/`-separated, exactly as MLflow named it. */
export interface ArtifactFile {
  path: string;
  size: number;
}

export function parseJson<T>(schema: z.ZodType<T>, data: unknown, ctx: MlflowErrorContext): T {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw mlflowBadResponse(ctx, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

export function toModelVersionInfo(mv: ModelVersionJson, alias?: string): ModelVersionInfo {
  const fromSource = /^models:\/(m-[^/@]+)$/.exec(mv.source)?.[1];
  return {
    name: mv.name,
    version: mv.version,
    alias,
    runId: mv.run_id || undefined,
    source: mv.source,
    // MLflow 3 often leaves model_id out of the version (FIELD-NOTES); the source names it then.
    modelId: mv.model_id || fromSource,
    createdAt: new Date(mv.creation_timestamp),
    description: mv.description || undefined,
    status: mv.status,
    tags: Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value])),
    aliases: mv.aliases ?? [],
  };
}
