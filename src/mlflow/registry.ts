// Model registry REST calls, one function each (all under /api/2.0/mlflow/, FIELD-NOTES "MLflow").
// They return checked values and throw the client's KilnErrors unchanged; resolve.ts turns the
// "not found" answers into the codes users see.
import type { MlflowClient } from './client.ts';
import {
  DownloadUriResponse,
  LoggedModelResponse,
  type ModelVersionInfo,
  ModelVersionResponse,
  parseJson,
  RegisteredModelResponse,
  RunResponse,
  toModelVersionInfo,
} from './types.ts';

const API = 'api/2.0/mlflow/';

export async function getModelVersion(
  client: MlflowClient,
  name: string,
  version: string,
): Promise<ModelVersionInfo> {
  const what = `get model version ${name}/${version}`;
  const data = await client.getJson(`${API}model-versions/get`, { name, version }, what);
  return toModelVersionInfo(parseJson(ModelVersionResponse, data, ctx(client, what)).model_version);
}

/** The version an alias points at. An unknown alias answers 400 INVALID_PARAMETER_VALUE (3.17). */
export async function getModelVersionByAlias(
  client: MlflowClient,
  name: string,
  alias: string,
  signal?: AbortSignal | undefined,
): Promise<ModelVersionInfo> {
  const what = `get alias ${name}@${alias}`;
  const data = await client.getJson(`${API}registered-models/alias`, { name, alias }, what, signal);
  return toModelVersionInfo(parseJson(ModelVersionResponse, data, ctx(client, what)).model_version, alias);
}

export interface RegisteredModelInfo {
  name: string;
  aliases: Record<string, string>;
  latestVersions: string[];
}

export async function getRegisteredModel(client: MlflowClient, name: string): Promise<RegisteredModelInfo> {
  const what = `get registered model ${name}`;
  const data = await client.getJson(`${API}registered-models/get`, { name }, what);
  const rm = parseJson(RegisteredModelResponse, data, ctx(client, what)).registered_model;
  return {
    name: rm.name,
    aliases: Object.fromEntries((rm.aliases ?? []).map((a) => [a.alias, a.version])),
    latestVersions: (rm.latest_versions ?? []).map((v) => v.version),
  };
}

/** Idempotent: setting the same key again overwrites it (kiln writes back image digests this way). */
export async function setModelVersionTag(
  client: MlflowClient,
  name: string,
  version: string,
  key: string,
  value: string,
): Promise<void> {
  await client.postJson(
    `${API}model-versions/set-tag`,
    { name, version, key, value },
    `set tag ${key} on ${name}/${version}`,
  );
}

export async function setRegisteredModelAlias(
  client: MlflowClient,
  name: string,
  alias: string,
  version: string,
): Promise<void> {
  await client.postJson(
    `${API}registered-models/alias`,
    { name, alias, version },
    `set alias ${name}@${alias}`,
  );
}

/** Where the version's files are: `mlflow-artifacts:/...`, or for a runs:/ source the runs:/ URI itself. */
export async function getModelVersionDownloadUri(
  client: MlflowClient,
  name: string,
  version: string,
): Promise<string> {
  const what = `get download URI of ${name}/${version}`;
  const data = await client.getJson(`${API}model-versions/get-download-uri`, { name, version }, what);
  return parseJson(DownloadUriResponse, data, ctx(client, what)).artifact_uri;
}

export async function getRunArtifactUri(client: MlflowClient, runId: string): Promise<string> {
  const what = `get run ${runId}`;
  const data = await client.getJson(`${API}runs/get`, { run_id: runId }, what);
  return parseJson(RunResponse, data, ctx(client, what)).run.info.artifact_uri;
}

export async function getLoggedModelArtifactUri(client: MlflowClient, modelId: string): Promise<string> {
  const what = `get logged model ${modelId}`;
  const data = await client.getJson(`${API}logged-models/${encodeURIComponent(modelId)}`, {}, what);
  return parseJson(LoggedModelResponse, data, ctx(client, what)).model.info.artifact_uri;
}

function ctx(client: MlflowClient, what: string) {
  return { what, method: 'GET', url: client.baseUrl.href };
}
