// One turn of the analysis loop, the only impure part: read the InferenceService, measure (metrics
// or prediction agreement), judge, decide, apply the decision through kserve/ (step, promote,
// abort), and return the decision with its evidence. The caller (kiln rollout watch, kiln serve)
// persists the state and the decision and calls again at state.nextCheckAt.
import type { RolloutPolicy } from '../config/rollout.ts';
import { describeCause, isKilnError } from '../errors.ts';
import type { Kube } from '../kserve/client.ts';
import { abortRollout, promoteRollout, stepRollout } from '../kserve/deploy.ts';
import { summarize } from '../kserve/status.ts';
import type { InferenceService, IsvcRef } from '../kserve/types.ts';
import { type Logger, silentLogger } from '../log.ts';
import { checkAgreement, type Endpoints } from './agreement.ts';
import { decisionEvent } from './events.ts';
import { judge, worst } from './judge.ts';
import type { MetricSource, Revisions } from './provider.ts';
import { decide, isFinished, percentOf, startAnalysis } from './steps.ts';
import type { AnalysisState, CheckResult, Decision } from './types.ts';

export interface ControllerDeps {
  kube: Kube;
  policy: RolloutPolicy;
  /** Undefined when the policy has no metric checks. */
  source: MetricSource | undefined;
  /** Rows to send for prediction agreement (loaded once, lazily). */
  examples: () => Promise<{ rows: unknown[]; sources: string[] }>;
  /** After an abort or a promotion: MLflow tags, alias move-back (errors are logged, not fatal). */
  onFinished?: (s: AnalysisState, ctx: { primaryVersion: string | undefined }) => Promise<void>;
  log?: Logger;
  now?: () => number;
}

export type TickResult =
  | { kind: 'waiting'; state: AnalysisState }
  | { kind: 'decided'; state: AnalysisState; decision: Decision }
  /** The InferenceService no longer runs the image under analysis: a newer version replaced it. */
  | { kind: 'superseded'; state: AnalysisState; image: string | undefined };

/** A new analysis for what the InferenceService runs now; the canary is held at 0% for agreement. */
export async function beginAnalysis(deps: ControllerDeps, ref: IsvcRef): Promise<AnalysisState> {
  const now = (deps.now ?? Date.now)();
  const live = await deps.kube.get(ref);
  const report = live ? summarize(ref, live) : undefined;
  if (!report?.image)
    throw new Error(`InferenceService ${ref.namespace}/${ref.name} has no image to analyse`);
  const state = startAnalysis(
    { ...ref, model: report.model, version: report.version, image: report.image },
    deps.policy,
    now,
  );
  const want = percentOf(state, deps.policy);
  if (want !== undefined && report.canaryPercent !== want && report.canaryPercent !== undefined) {
    await stepRollout(deps.kube, ref, want, report.image, deps.log);
  }
  return state;
}

export async function tick(s: AnalysisState, deps: ControllerDeps): Promise<TickResult> {
  const now = (deps.now ?? Date.now)();
  const log = deps.log ?? silentLogger;
  if (isFinished(s) || s.phase === 'paused' || now < s.nextCheckAt) return { kind: 'waiting', state: s };
  const ref = { namespace: s.namespace, name: s.name };
  const live = await deps.kube.get(ref);
  const report = live ? summarize(ref, live) : undefined;
  if (!live || report?.image !== s.image) return { kind: 'superseded', state: s, image: report?.image };
  const at = new Date(now).toISOString();
  const percent = percentOf(s, deps.policy) ?? 100;
  const pc = live.status?.components?.predictor;
  const canary = pc?.latestCreatedRevision;
  const primary = pc?.latestRolledoutRevision;

  let checks: CheckResult[];
  if (report.canaryPercent === undefined || (canary !== undefined && canary === primary && s.stepIndex < 0)) {
    // Promoted by hand (or a first deploy: nothing rolled out before, nothing to compare with).
    checks = [
      note(
        at,
        'pass',
        report.canaryPercent === undefined
          ? 'the canary already takes 100% (promoted outside the analysis)'
          : 'first rollout: no primary revision to compare with',
      ),
    ];
    if (report.canaryPercent !== undefined) await promoteRollout(deps.kube, ref, log);
    const decision = finishDecision(s, deps.policy, at, percent, checks);
    await deps.kube.recordEvent?.(live, decisionEvent(decision.decision, decision.state), log);
    return { kind: 'decided', state: decision.state, decision: decision.decision };
  }
  if (!canary || report.reconciled === false || pc?.latestReadyRevision !== canary) {
    checks = [
      note(
        at,
        'inconclusive',
        `the canary revision ${canary ?? '(none yet)'} is not ready (KServe has not rolled it out yet)`,
      ),
    ];
  } else if (s.stepIndex < 0) {
    const ex = await deps.examples();
    checks = [
      await checkAgreement(ex.rows, ex.sources, endpoints(live, ref.name), deps.policy.agreement, at),
    ];
  } else {
    checks = await measureAll(s, deps, { ...ref, canary, primary }, now, at);
  }
  const verdict = worst(checks.map((c) => c.verdict));
  const why = checks
    .filter((c) => c.verdict === verdict)
    .map((c) => `${c.check}: ${c.reason}`)
    .join('; ');
  const out = decide(s, verdict, deps.policy, now, why);
  const next = percentOf(out.state, deps.policy);
  if (out.action === 'advance' && next !== undefined) await stepRollout(deps.kube, ref, next, s.image, log);
  if (out.action === 'promote') await promoteRollout(deps.kube, ref, log);
  if (out.action === 'abort') await abortRollout(deps.kube, ref, log);
  if (out.action === 'promote' || out.action === 'abort') await finished(out.state, live, deps, log);
  const decision: Decision = {
    at,
    step: s.stepIndex,
    percent: s.stepIndex < 0 ? 0 : percent,
    verdict,
    action: out.action,
    nextPercent: out.action === 'promote' ? undefined : out.action === 'abort' ? 0 : next,
    reason: out.reason,
    checks,
  };
  // Every decision, holds included: `kubectl describe` then shows the whole story (repeats count up).
  await deps.kube.recordEvent?.(live, decisionEvent(decision, out.state), log);
  return { kind: 'decided', state: out.state, decision };
}

async function measureAll(
  s: AnalysisState,
  deps: ControllerDeps,
  revs: Revisions,
  now: number,
  at: string,
): Promise<CheckResult[]> {
  const p = deps.policy;
  const out: CheckResult[] = [];
  for (const check of p.checks) {
    if (!deps.source) {
      out.push({
        ...note(at, 'inconclusive', 'no Prometheus configured (rollout.prometheus.url)'),
        check: check.name,
      });
      continue;
    }
    try {
      // The step's window, minus its warm-up (but always at least two scrapes long).
      const endSec = now / 1000;
      const startSec = Math.min(s.stepStartedAt / 1000 + p.warmup, endSec - 2 * p.scrapeInterval);
      const w = { startSec, endSec, scrapeSec: p.scrapeInterval };
      const m = await deps.source.measure(check, revs, w);
      out.push(
        judge(check, m.measurement, {
          alpha: p.alpha,
          minRequests: p.minRequests,
          minSamples: 5,
          at,
          queries: m.queries,
        }),
      );
    } catch (e) {
      // A provider error is not evidence against the canary: inconclusive (Argo counts these apart too).
      const msg = isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
      out.push({
        ...note(at, 'inconclusive', `could not measure: ${msg}`),
        check: check.name,
        type: check.type,
      });
    }
  }
  return out;
}

/** KServe lists a URL per traffic target when tag routing is on: latest- (canary) and prev- (primary). */
function endpoints(live: InferenceService, model: string): Endpoints {
  const pc = live.status?.components?.predictor;
  const traffic = pc?.traffic ?? [];
  const canary = traffic.find((t) => t.latestRevision === true)?.url;
  const primary = traffic.find(
    (t) => t.latestRevision !== true && (t.tag === 'prev' || t.revisionName === pc?.latestRolledoutRevision),
  )?.url;
  return { canary, primary, model };
}

async function finished(
  s: AnalysisState,
  live: InferenceService,
  deps: ControllerDeps,
  log: Logger,
): Promise<void> {
  if (!deps.onFinished) return;
  const report = summarize({ namespace: s.namespace, name: s.name }, live);
  const primaryVersion = report.revisions.find((r) => r.roles.includes('latestRolledout'))?.version;
  try {
    await deps.onFinished(s, { primaryVersion });
  } catch (e) {
    log.warn(`recording the outcome of ${s.namespace}/${s.name} in MLflow failed`, {
      error: describeCause(e),
    });
  }
}

function note(at: string, verdict: CheckResult['verdict'], reason: string): CheckResult {
  return {
    check: 'rollout',
    type: 'state',
    verdict,
    reason,
    queries: [],
    values: {},
    threshold: undefined,
    test: undefined,
    at,
  };
}

function finishDecision(
  s: AnalysisState,
  policy: RolloutPolicy,
  at: string,
  percent: number,
  checks: CheckResult[],
) {
  const reason = checks[0]?.reason ?? '';
  const state: AnalysisState = {
    ...s,
    phase: 'promoted',
    finishedAt: Date.parse(at),
    reason,
    nextCheckAt: Number.MAX_SAFE_INTEGER,
  };
  const decision: Decision = {
    at,
    step: s.stepIndex,
    percent,
    verdict: 'pass',
    action: 'promote',
    nextPercent: undefined,
    reason,
    checks,
  };
  void policy;
  return { state, decision };
}
