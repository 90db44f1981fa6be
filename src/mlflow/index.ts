// kiln's MLflow client: resolve a models:/ URI to one registered version, list its files and
// stream them, and write tags/aliases back. See FIELD-NOTES.md "MLflow" for the server facts.
export { compareBytes, listModelFiles } from './artifacts.ts';
export { MlflowClient } from './client.ts';
export { openModelFile } from './download.ts';
export { mlflowStatus } from './errors.ts';
export { type ArtifactLocation, locateModelDir } from './location.ts';
export { authorizationHeader, type MlflowOptions, mlflowOptionsFromEnv } from './options.ts';
export {
  getModelVersion,
  getModelVersionByAlias,
  getRegisteredModel,
  type RegisteredModelInfo,
  setModelVersionTag,
  setRegisteredModelAlias,
} from './registry.ts';
export { resolveModelVersion } from './resolve.ts';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
export type { ArtifactFile, ModelVersionInfo } from './types.ts';
export { formatModelRef, type ModelRef, parseModelUri } from './uri.ts';
