// models:/NAME@ALIAS or models:/NAME/VERSION -> the one registered version it names.
// MLflow's "not found" answers are not uniform (checked on 3.17.2):
//   unknown model, by alias or version   -> 404 RESOURCE_DOES_NOT_EXIST
//   unknown alias of a known model       -> 400 INVALID_PARAMETER_VALUE "alias X not found"
//   unknown version of a known model     -> 404 RESOURCE_DOES_NOT_EXIST (same text as unknown model)
// so on any 400/404 kiln asks for the registered model itself to tell the cases apart; that also
// lists the existing aliases / latest version for the hint.
import { KilnError } from '../errors.ts';
import type { MlflowClient } from './client.ts';
import { mlflowStatus } from './errors.ts';
import {
  getModelVersion,
  getModelVersionByAlias,
  getRegisteredModel,
  type RegisteredModelInfo,
} from './registry.ts';
import type { ModelVersionInfo } from './types.ts';
import { formatModelRef, type ModelRef } from './uri.ts';

export async function resolveModelVersion(client: MlflowClient, ref: ModelRef): Promise<ModelVersionInfo> {
  try {
    return 'alias' in ref
      ? await getModelVersionByAlias(client, ref.name, ref.alias)
      : await getModelVersion(client, ref.name, ref.version);
  } catch (e) {
    const s = mlflowStatus(e);
    if (s === undefined || (s.status !== 400 && s.status !== 404)) throw e;
    const model = await registeredModelOrUndefined(client, ref.name);
    throw notFound(ref, model, e) ?? e;
  }
}

async function registeredModelOrUndefined(
  client: MlflowClient,
  name: string,
): Promise<RegisteredModelInfo | undefined> {
  try {
    return await getRegisteredModel(client, name);
  } catch (e) {
    if (mlflowStatus(e)?.status === 404) return undefined;
    throw e;
  }
}

function notFound(
  ref: ModelRef,
  model: RegisteredModelInfo | undefined,
  cause: unknown,
): KilnError | undefined {
  const uri = formatModelRef(ref);
  const details = {
    uri,
    name: ref.name,
    ...('alias' in ref ? { alias: ref.alias } : { version: ref.version }),
  };
  if (model === undefined) {
    return new KilnError(
      'MODEL_NOT_FOUND',
      `registered model "${ref.name}" does not exist in MLflow (${uri})`,
      {
        kind: 'usage',
        hint: 'check the model name (names are case-sensitive) and MLFLOW_TRACKING_URI',
        cause,
        details,
      },
    );
  }
  if ('alias' in ref) {
    if (ref.alias in model.aliases) return undefined; // it exists: the 400 was about something else
    const known = Object.entries(model.aliases).map(([a, v]) => `${a} -> ${v}`);
    return new KilnError(
      'MODEL_ALIAS_NOT_FOUND',
      `model "${ref.name}" has no alias "${ref.alias}" (${uri})`,
      {
        kind: 'usage',
        hint:
          known.length > 0
            ? `existing aliases: ${known.join(', ')}`
            : `model "${ref.name}" has no aliases yet`,
        cause,
        details: { ...details, aliases: model.aliases },
      },
    );
  }
  const latest = model.latestVersions.map(Number).filter(Number.isFinite);
  return new KilnError(
    'MODEL_VERSION_NOT_FOUND',
    `model "${ref.name}" has no version ${ref.version} (${uri})`,
    {
      kind: 'usage',
      hint:
        latest.length > 0
          ? `the latest version is ${Math.max(...latest)}`
          : `model "${ref.name}" has no versions yet`,
      cause,
      details,
    },
  );
}
