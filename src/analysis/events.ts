// What a decision looks like as a Kubernetes Event on the InferenceService (kubectl describe /
// kubectl get events): a stable reason per outcome, Warning for what needs a person, and the
// decision's reason with the evidence of the checks that decided it. Pure; kserve/events.ts sends it.
import type { KubeEvent } from '../kserve/events.ts';
import type { AnalysisState, Decision } from './types.ts';

export function decisionEvent(d: Decision, s: AnalysisState): KubeEvent {
  const what = s.model ? `${s.model} version ${s.version ?? '?'}` : s.image;
  // Pass reasons say only where; the checks carry the numbers (a fail/inconclusive reason has them).
  const evidence =
    d.verdict === 'pass' && d.checks.some((c) => c.reason !== d.reason)
      ? ` (${d.checks.map((c) => `${c.check}: ${c.reason}`).join('; ')})`
      : '';
  const message = `${what}: ${d.reason}${evidence}`;
  switch (d.action) {
    case 'advance':
      return d.step < 0
        ? { type: 'Normal', reason: 'CanaryAgreement', action: 'Advance', message }
        : { type: 'Normal', reason: 'CanaryStepAdvanced', action: 'Advance', message };
    case 'promote':
      return { type: 'Normal', reason: 'CanaryPromoted', action: 'Promote', message };
    case 'abort':
      return { type: 'Warning', reason: 'CanaryAborted', action: 'Abort', message };
    case 'pause':
      return { type: 'Warning', reason: 'CanaryPaused', action: 'Pause', message };
    case 'hold':
      // A failed check below the failure limit is evidence against the canary: Warning. Not enough
      // data is not (it holds and retries), so Normal, as Flagger's "waiting" events are.
      return d.verdict === 'fail'
        ? { type: 'Warning', reason: 'CanaryCheckFailed', action: 'Hold', message }
        : { type: 'Normal', reason: 'CanaryInconclusive', action: 'Hold', message };
  }
}
