// The step state machine, pure: (state, the interval's verdict, policy, now) -> (next state, action).
//
//   agreement (0% traffic) --pass--> step 0 (steps[0]%) --pass--> step 1 ... --pass--> promoted
//        any fail (failureLimit times in a step) ---------------------------------> aborted
//        inconclusive inconclusiveLimit times in a row --------------> aborted | paused (policy)
//        otherwise: hold the step (same percent), judge again after `interval`
//
// Like Argo Rollouts (inconclusiveLimit, failureLimit) but with inconclusive meaning "not enough
// data yet", which holds the step instead of failing it as Flagger does.
import type { RolloutPolicy } from '../config/rollout.ts';
import type { AnalysisState, DecisionAction, Verdict } from './types.ts';

export interface Target {
  namespace: string;
  name: string;
  model: string | undefined;
  version: string | undefined;
  image: string;
}

export function startAnalysis(t: Target, policy: RolloutPolicy, nowMs: number): AnalysisState {
  const agreement = policy.agreement.enabled;
  return {
    ...t,
    phase: agreement ? 'agreement' : 'progressing',
    stepIndex: agreement ? -1 : 0,
    stepStartedAt: nowMs,
    // Agreement needs no metric window: judge it at once. A step waits one interval.
    nextCheckAt: agreement ? nowMs : nowMs + policy.interval * 1000,
    inconclusiveInARow: 0,
    failuresInStep: 0,
    startedAt: nowMs,
    finishedAt: undefined,
    reason: undefined,
  };
}

/** Traffic the canary has in a state (undefined once promoted: it takes 100%). */
export function percentOf(s: AnalysisState, policy: RolloutPolicy): number | undefined {
  if (s.phase === 'promoted') return undefined;
  if (s.phase === 'aborted' || s.stepIndex < 0) return 0;
  return policy.steps[Math.min(s.stepIndex, policy.steps.length - 1)];
}

export interface StepOutcome {
  state: AnalysisState;
  action: DecisionAction;
  reason: string;
}

export function isFinished(s: AnalysisState): boolean {
  return s.phase === 'promoted' || s.phase === 'aborted';
}

export function decide(
  s: AnalysisState,
  verdict: Verdict,
  policy: RolloutPolicy,
  nowMs: number,
  why: string,
): StepOutcome {
  if (isFinished(s) || s.phase === 'paused')
    return { state: s, action: 'hold', reason: `analysis is ${s.phase}` };
  const intervalMs = policy.interval * 1000;
  const where =
    s.stepIndex < 0
      ? 'prediction agreement'
      : `step ${s.stepIndex + 1}/${policy.steps.length} (${policy.steps[s.stepIndex]}%)`;
  if (verdict === 'fail') {
    const failures = s.failuresInStep + 1;
    if (failures >= policy.failureLimit || s.stepIndex < 0) {
      const reason = `${where} failed: ${why}`;
      return { state: finish(s, 'aborted', nowMs, reason), action: 'abort', reason };
    }
    return {
      state: { ...s, failuresInStep: failures, inconclusiveInARow: 0, nextCheckAt: nowMs + intervalMs },
      action: 'hold',
      reason: `${where} failed ${failures}/${policy.failureLimit} times: ${why}`,
    };
  }
  if (verdict === 'inconclusive') {
    const n = s.inconclusiveInARow + 1;
    if (n >= policy.inconclusiveLimit) {
      const reason = `${where} inconclusive ${n} times in a row (limit ${policy.inconclusiveLimit}): ${why}`;
      if (policy.onInconclusive === 'pause') {
        return {
          state: {
            ...s,
            phase: 'paused',
            inconclusiveInARow: n,
            reason,
            nextCheckAt: Number.MAX_SAFE_INTEGER,
          },
          action: 'pause',
          reason,
        };
      }
      return { state: finish(s, 'aborted', nowMs, reason), action: 'abort', reason };
    }
    return {
      state: { ...s, inconclusiveInARow: n, nextCheckAt: nowMs + intervalMs },
      action: 'hold',
      reason: `${where} inconclusive (${n}/${policy.inconclusiveLimit}): ${why}`,
    };
  }
  const next = s.stepIndex + 1;
  if (next >= policy.steps.length) {
    const reason = `${where} passed; every step passed: promoting`;
    return { state: finish(s, 'promoted', nowMs, reason), action: 'promote', reason };
  }
  return {
    state: {
      ...s,
      phase: 'progressing',
      stepIndex: next,
      stepStartedAt: nowMs,
      nextCheckAt: nowMs + intervalMs,
      inconclusiveInARow: 0,
      failuresInStep: 0,
    },
    action: 'advance',
    reason: `${where} passed: canary to ${policy.steps[next]}%`,
  };
}

function finish(
  s: AnalysisState,
  phase: 'promoted' | 'aborted',
  nowMs: number,
  reason: string,
): AnalysisState {
  return { ...s, phase, finishedAt: nowMs, reason, nextCheckAt: Number.MAX_SAFE_INTEGER };
}
