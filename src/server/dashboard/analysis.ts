// The one place the dashboard learns a canary's analysis (the judge that steps, promotes or aborts
// a canary: src/analysis, run by kiln serve's AnalysisLoop and kept in its AnalysisStore). Without
// a rollout policy there is no store, this answers undefined, and the API and page leave
// `analysis` out.
import type { AnalysisStore } from '../analysis-store.ts';

export interface CanaryAnalysis {
  /** e.g. running, passed, failed, promoted, aborted. */
  state: string;
  /** The traffic step it is at, when it steps. */
  step: number | undefined;
  lastDecision: string | undefined;
  reason: string | undefined;
  at: number | undefined;
}

export type AnalysisSource = (model: string, digest: string | undefined) => CanaryAnalysis | undefined;

export const noAnalysis: AnalysisSource = () => undefined;

/** The analysis kiln serve keeps for a canary: its state, step, and the newest decision with why. */
export function storeAnalysis(store: AnalysisStore): AnalysisSource {
  return (model, digest) => {
    if (!digest) return undefined;
    const run = store.latestFor(model, digest);
    if (!run) return undefined;
    const last = run.decisions.at(-1);
    return {
      state: run.status,
      step: last?.percent,
      lastDecision: last?.action,
      reason: run.state.reason ?? last?.reason,
      at: last ? Date.parse(last.at) : run.updatedAt,
    };
  };
}
