// Drive one analysis to its end in this process (kiln rollout watch): tick, report each decision,
// sleep until the next check. kiln serve drives the same `tick` from its durable loop instead.
import { sleep } from '../sleep.ts';
import { type ControllerDeps, tick } from './controller.ts';
import { publish } from './publish.ts';
import { isFinished } from './steps.ts';
import type { AnalysisState, Decision } from './types.ts';

export interface RunHooks {
  onDecision?: (d: Decision, s: AnalysisState) => void;
  signal?: AbortSignal;
}

export async function runAnalysis(
  start: AnalysisState,
  deps: ControllerDeps,
  hooks: RunHooks = {},
): Promise<{ state: AnalysisState; decisions: Decision[]; superseded: boolean }> {
  let s = start;
  const decisions: Decision[] = [];
  const now = deps.now ?? Date.now;
  while (!isFinished(s) && s.phase !== 'paused') {
    hooks.signal?.throwIfAborted();
    const wait = s.nextCheckAt - now();
    if (wait > 0) await sleep(Math.min(wait, 60_000), hooks.signal);
    const r = await tick(s, deps);
    if (r.kind === 'superseded') return { state: r.state, decisions, superseded: true };
    s = r.state;
    if (r.kind === 'decided') {
      decisions.push(r.decision);
      await publish(deps.kube, s, deps.policy, r.decision).catch((e: unknown) =>
        deps.log?.warn('could not publish the analysis status on the InferenceService', { error: String(e) }),
      );
      hooks.onDecision?.(r.decision, s);
    }
  }
  return { state: s, decisions, superseded: false };
}
