// Where a user sees an analysis without kiln serve's database: a compact summary annotation on the
// InferenceService itself (`kubectl get isvc -o yaml`, `kiln status`), applied as its own field
// manager so kiln's deploy/rollback applies (manager `kiln`) neither own nor remove it.
import type { RolloutPolicy } from '../config/rollout.ts';
import type { Kube } from '../kserve/client.ts';
import { API_VERSION, KIND } from '../kserve/types.ts';
import { percentOf } from './steps.ts';
import type { AnalysisState, Decision } from './types.ts';

export const ANALYSIS_ANNOTATION = 'analysis.kiln.dev/status';
export const ANALYSIS_MANAGER = 'kiln-analysis';

export function summary(s: AnalysisState, policy: RolloutPolicy, last: Decision | undefined) {
  return {
    phase: s.phase,
    model: s.model,
    version: s.version,
    image: s.image,
    step: s.stepIndex < 0 ? 'agreement' : `${s.stepIndex + 1}/${policy.steps.length}`,
    percent: percentOf(s, policy),
    steps: policy.steps,
    startedAt: new Date(s.startedAt).toISOString(),
    finishedAt: s.finishedAt === undefined ? undefined : new Date(s.finishedAt).toISOString(),
    nextCheckAt: s.nextCheckAt >= Number.MAX_SAFE_INTEGER ? undefined : new Date(s.nextCheckAt).toISOString(),
    reason: s.reason,
    last: last && {
      at: last.at,
      verdict: last.verdict,
      action: last.action,
      reason: last.reason,
      checks: last.checks.map((c) => ({ check: c.check, verdict: c.verdict, reason: c.reason })),
    },
  };
}

export async function publish(
  kube: Kube,
  s: AnalysisState,
  policy: RolloutPolicy,
  last: Decision | undefined,
): Promise<void> {
  await kube.apply(
    { namespace: s.namespace, name: s.name },
    {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: s.name,
        namespace: s.namespace,
        annotations: { [ANALYSIS_ANNOTATION]: JSON.stringify(summary(s, policy, last)) },
      },
    } as never,
    ANALYSIS_MANAGER,
  );
}
