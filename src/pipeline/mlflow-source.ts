import type { Logger } from '../log.ts';
import {
  listModelFiles,
  MlflowClient,
  type MlflowOptions,
  openModelFile,
  parseModelUri,
  resolveModelVersion,
} from '../mlflow/index.ts';
import type { ModelVersionInfo } from '../mlflow/types.ts';
import { redactUri } from '../sign/redact.ts';
import type { ModelFiles } from './model.ts';

// The `source` stage: an MLflow model URI becomes a ModelFiles the bake stage can stream from.

export interface MlflowModel extends ModelFiles {
  info: ModelVersionInfo;
  client: MlflowClient;
}

export async function mlflowModel(uri: string, options: MlflowOptions, log: Logger): Promise<MlflowModel> {
  const ref = parseModelUri(uri);
  const client = new MlflowClient({ ...options, log });
  const info = await resolveModelVersion(client, ref);
  log.info(`resolved ${uri} to version ${info.version}${info.runId ? ` (run ${info.runId})` : ''}`);
  const files = await listModelFiles(client, info);
  return {
    info,
    client,
    facts: {
      name: info.name,
      version: info.version,
      alias: info.alias,
      runId: info.runId,
      // A source such as s3://bucket/x?X-Amz-Signature=... must never be baked into an image.
      source: redactUri(info.source),
      createdAt: info.createdAt,
    },
    files,
    open: async (file) => openModelFile(client, info, file),
  };
}
