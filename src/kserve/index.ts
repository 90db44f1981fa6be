// kserve/: InferenceService rendering, apply, canary steps, rollback, status and GitOps output.
export { ANNOTATION_PREFIX, HISTORY_LIMIT, type HistoryEntry } from './annotations.ts';
export { FIELD_MANAGER, type Kube, kubeFromConfig, type OpenKubeOptions, openKube } from './client.ts';
export {
  abortRollout,
  type DeployOptions,
  deployInferenceService,
  type OperationOptions,
  promoteRollout,
  type RolloutResult,
  rollback,
  stepRollout,
} from './deploy.ts';
export { checkGitopsDir, deployToGitops, type GitopsResult, gitopsPath } from './gitops.ts';
export { loadKubeConfig, parseIsvcRef } from './kubeconfig.ts';
export type { DeployRequest } from './plan.ts';
export { type PinnedImage, parsePinnedImage } from './reference.ts';
export { getStatus, type RevisionReport, type StatusReport, summarize } from './status.ts';
export type { ImageMode, InferenceService, IsvcRef } from './types.ts';
