// What the analysis measures and decides. Every judgement keeps its evidence (query, values,
// threshold or test, verdict, time) so a user can see why a canary passed or failed.

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** Failure counts per side over the step so far (a growing window: holding a step gains data). */
export interface CountsMeasurement {
  kind: 'counts';
  canary: { total: number; failed: number };
  primary: { total: number; failed: number } | undefined;
}

/** One observation per query_range step per side (Kayenta's shape: each step sample is one value). */
export interface SamplesMeasurement {
  kind: 'samples';
  canary: number[];
  primary: number[];
  /** The canary's value over the whole window (for absolute thresholds). */
  canaryOverall: number | undefined;
}

export interface ValueMeasurement {
  kind: 'value';
  canary: number | undefined;
}

/**
 * Per-request latencies as Prometheus histograms over the step (each request one observation):
 * per-bin counts over the same ascending bounds for both sides.
 */
export interface HistogramMeasurement {
  kind: 'histograms';
  bounds: number[];
  canary: number[];
  primary: number[];
}

export type Measurement = CountsMeasurement | SamplesMeasurement | ValueMeasurement | HistogramMeasurement;

export interface TestResult {
  name: 'fisher-exact' | 'two-proportion-z' | 'mann-whitney-u';
  /** One-sided p-value of "the canary is worse". */
  p: number;
  alpha: number;
  /** The observed effect (failure-rate difference, or median ratio) and the smallest that counts. */
  effect: number;
  minEffect: number;
}

export interface CheckResult {
  check: string;
  type: string;
  verdict: Verdict;
  /** One sentence a person reads: what was measured against what. */
  reason: string;
  /** Rendered PromQL (or the agreement request), in the order it ran. */
  queries: string[];
  values: Record<string, unknown>;
  threshold: string | undefined;
  test: TestResult | undefined;
  at: string;
}

export type DecisionAction = 'advance' | 'promote' | 'hold' | 'abort' | 'pause';

/** One judgement of one interval and what kiln did about it. */
export interface Decision {
  at: string;
  /** Index into the policy's steps (-1: prediction agreement before any traffic). */
  step: number;
  /** Canary traffic percent while judged. */
  percent: number;
  verdict: Verdict;
  action: DecisionAction;
  /** Traffic percent after the action (undefined: promoted, the canary takes 100%). */
  nextPercent: number | undefined;
  reason: string;
  checks: CheckResult[];
}

export type AnalysisPhase = 'agreement' | 'progressing' | 'promoted' | 'aborted' | 'paused';

/** The durable state of one analysis: enough to resume it after a restart. */
export interface AnalysisState {
  namespace: string;
  name: string;
  model: string | undefined;
  version: string | undefined;
  /** The image under analysis (a new image replaces the analysis). */
  image: string;
  phase: AnalysisPhase;
  stepIndex: number;
  /** When the current step started (ms): the metric window runs from here. */
  stepStartedAt: number;
  /** When the next judgement is due (ms). */
  nextCheckAt: number;
  inconclusiveInARow: number;
  failuresInStep: number;
  startedAt: number;
  finishedAt: number | undefined;
  reason: string | undefined;
}
