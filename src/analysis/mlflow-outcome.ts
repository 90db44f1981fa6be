// Closing the loop in MLflow: the version under analysis is tagged with the outcome and the reason,
// and on abort the alias can move back to the version still serving, so the registry says what
// production runs (and the reconciler does not promote the failed version again).
import type { RolloutPolicy } from '../config/rollout.ts';
import type { Logger } from '../log.ts';
import { type MlflowClient, setModelVersionTag, setRegisteredModelAlias } from '../mlflow/index.ts';
import type { AnalysisState } from './types.ts';

export const ROLLOUT_TAG = 'kiln.rollout';
export const ROLLOUT_REASON_TAG = 'kiln.rollout.reason';
/** MLflow caps tag values (5000 characters in older servers). */
const MAX_TAG = 4900;

export function mlflowOutcome(o: {
  client: MlflowClient;
  policy: RolloutPolicy;
  /** The alias kiln serve watches for this model (models[].alias). */
  alias: string | undefined;
  log: Logger;
}) {
  return async (s: AnalysisState, ctx: { primaryVersion: string | undefined }): Promise<void> => {
    if (!s.model || !s.version) return;
    const outcome = s.phase === 'aborted' ? 'aborted' : s.phase === 'promoted' ? 'promoted' : undefined;
    if (!outcome) return;
    if (o.policy.onAbort.tag || outcome === 'promoted') {
      await setModelVersionTag(o.client, s.model, s.version, ROLLOUT_TAG, outcome);
      await setModelVersionTag(
        o.client,
        s.model,
        s.version,
        ROLLOUT_REASON_TAG,
        (s.reason ?? '').slice(0, MAX_TAG),
      );
    }
    if (outcome === 'aborted' && o.policy.onAbort.moveAliasBack && o.alias && ctx.primaryVersion) {
      await setRegisteredModelAlias(o.client, s.model, o.alias, ctx.primaryVersion);
      o.log.info(
        `moved ${s.model}@${o.alias} back to version ${ctx.primaryVersion} (version ${s.version} aborted)`,
      );
    }
  };
}
