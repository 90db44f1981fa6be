// The one place the dashboard learns a canary's analysis (the judge that steps, promotes or aborts
// a canary). Until that exists in kiln serve this answers undefined, and the API and page leave
// `analysis` out; wiring it is a change to this file alone.

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
