// analysis/: canary judgement. A pure judge (stats, judge, steps), a metric provider (Prometheus),
// prediction agreement, and the controller that applies decisions through kserve/.
export { beginAnalysis, type ControllerDeps, type TickResult, tick } from './controller.ts';
export { runAnalysis } from './run.ts';
export { analysisConfigured, controllerDeps, policyFor } from './setup.ts';
export { isFinished, percentOf } from './steps.ts';
export type { AnalysisState, CheckResult, Decision, Verdict } from './types.ts';
