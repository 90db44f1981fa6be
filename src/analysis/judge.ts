// The judge: pure functions from a measurement and a check's policy to a verdict with evidence.
// No I/O and no clock (the caller passes `at`), so every rule is unit-tested.
//
// Rules (docs/analysis.md "The statistics"):
// - Not enough data is inconclusive, never failed (Flagger fails on no data; kiln holds the step).
// - Canary against primary is a one-sided test that the canary is WORSE, plus a minimum effect
//   size: a significant but negligible difference passes, a large but not (yet) significant one
//   holds the step as inconclusive so the growing window can decide.
// - Failure counts: Fisher's exact test (exact at the sparse error counts where Kayenta's
//   Mann-Whitney is known to call errors a pass, kayenta#426); the z-test only for huge counts.
// - Latency: Mann-Whitney U over every request (histogram bins), effect = ratio at the quantile
//   or the median, the larger.
import type { CheckSpec } from '../config/rollout.ts';
import {
  binnedQuantile,
  fisherOneSided,
  mannWhitney,
  mannWhitneyBinned,
  median,
  twoProportionOneSided,
} from './stats.ts';
import type {
  CheckResult,
  CountsMeasurement,
  HistogramMeasurement,
  Measurement,
  SamplesMeasurement,
  TestResult,
  Verdict,
} from './types.ts';

export interface JudgeContext {
  alpha: number;
  minRequests: number;
  /** Observations per side a sample comparison needs (below: inconclusive). */
  minSamples: number;
  at: string;
  queries: string[];
}

/** Fisher's sum runs over at most this many failures; beyond, the normal approximation is exact enough. */
const FISHER_MAX_FAILURES = 5000;

export function judge(check: CheckSpec, m: Measurement, ctx: JudgeContext): CheckResult {
  const base = { check: check.name, type: check.type, queries: ctx.queries, at: ctx.at };
  if (m.kind === 'counts' && check.type === 'success-rate') return { ...base, ...judgeCounts(check, m, ctx) };
  if (m.kind === 'samples' && check.type !== 'success-rate')
    return { ...base, ...judgeSamples(check, m, ctx) };
  if (m.kind === 'value' && check.type === 'query') return { ...base, ...judgeValue(check, m.canary) };
  if (m.kind === 'histograms' && check.type === 'latency')
    return { ...base, ...judgeHistograms(check, m, ctx) };
  throw new Error(`internal: check ${check.name} (${check.type}) cannot judge a ${m.kind} measurement`);
}

type Judged = Omit<CheckResult, 'check' | 'type' | 'queries' | 'at'>;

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function judgeCounts(
  check: Extract<CheckSpec, { type: 'success-rate' }>,
  m: CountsMeasurement,
  ctx: JudgeContext,
): Judged {
  const c = m.canary;
  const values: Record<string, unknown> = { canary: c, primary: m.primary };
  if (c.total < ctx.minRequests) {
    return inconclusive(
      `the canary served ${c.total} requests, fewer than minRequests ${ctx.minRequests}`,
      values,
    );
  }
  const rate = 1 - c.failed / c.total;
  values['canarySuccessRate'] = rate;
  if (check.min !== undefined && rate < check.min) {
    return {
      verdict: 'fail',
      reason: `canary success rate ${pct(rate)} is below the floor ${pct(check.min)} (${c.failed}/${c.total} failed)`,
      values,
      threshold: `>= ${check.min}`,
      test: undefined,
    };
  }
  if (check.compare === 'absolute') {
    return {
      verdict: 'pass',
      reason: `canary success rate ${pct(rate)} over ${c.total} requests`,
      values,
      threshold: check.min === undefined ? undefined : `>= ${check.min}`,
      test: undefined,
    };
  }
  const p = m.primary;
  if (!p || p.total < ctx.minRequests) {
    return inconclusive(
      `the primary served ${p?.total ?? 0} requests, fewer than minRequests ${ctx.minRequests}`,
      values,
    );
  }
  values['primarySuccessRate'] = 1 - p.failed / p.total;
  const effect = c.failed / c.total - p.failed / p.total;
  const useFisher = c.failed + p.failed <= FISHER_MAX_FAILURES;
  const pValue = useFisher
    ? fisherOneSided(c.failed, c.total, p.failed, p.total)
    : twoProportionOneSided(c.failed, c.total, p.failed, p.total).p;
  const test: TestResult = {
    name: useFisher ? 'fisher-exact' : 'two-proportion-z',
    p: pValue,
    alpha: ctx.alpha,
    effect,
    minEffect: check.maxIncrease,
  };
  const what = `canary failed ${c.failed}/${c.total} (${pct(c.failed / c.total)}), primary ${p.failed}/${p.total} (${pct(p.failed / p.total)})`;
  return compared(test, what, values, `failure rate increase < ${check.maxIncrease} or p >= ${ctx.alpha}`);
}

function judgeSamples(
  check: Extract<CheckSpec, { type: 'latency' | 'query' }>,
  m: SamplesMeasurement,
  ctx: JudgeContext,
): Judged {
  const values: Record<string, unknown> = {
    canarySamples: m.canary.length,
    primarySamples: m.primary.length,
    canaryMedian: median(m.canary),
    primaryMedian: median(m.primary),
    canaryOverall: m.canaryOverall,
  };
  const max = check.max;
  const min = check.type === 'query' ? check.min : undefined;
  if (m.canaryOverall !== undefined && Number.isFinite(m.canaryOverall)) {
    const v = m.canaryOverall;
    if ((max !== undefined && v > max) || (min !== undefined && v < min)) {
      return {
        verdict: 'fail',
        reason: `canary ${check.name} ${fmt(v)} is outside ${range(min, max)}`,
        values,
        threshold: range(min, max),
        test: undefined,
      };
    }
  }
  if (check.compare === 'absolute') {
    if (m.canaryOverall === undefined || !Number.isFinite(m.canaryOverall)) {
      return inconclusive(`no data for the canary's ${check.name} yet`, values);
    }
    return {
      verdict: 'pass',
      reason: `canary ${check.name} ${fmt(m.canaryOverall)} within ${range(min, max)}`,
      values,
      threshold: range(min, max),
      test: undefined,
    };
  }
  if (m.canary.length < ctx.minSamples || m.primary.length < ctx.minSamples) {
    return inconclusive(
      `${m.canary.length} canary and ${m.primary.length} primary samples of ${check.name}, fewer than ${ctx.minSamples} each`,
      values,
    );
  }
  const lowerIsWorse = check.type === 'query' && check.worse === 'lower';
  // "Worse" is always "larger" for the test: flip the sign when lower is worse.
  const flip = (xs: number[]) => (lowerIsWorse ? xs.map((x) => -x) : xs);
  const mw = mannWhitney(flip(m.canary), flip(m.primary));
  const mc = median(m.canary);
  const mp = median(m.primary);
  const ratio = lowerIsWorse ? ratioOf(mp, mc) : ratioOf(mc, mp);
  const minEffect = check.type === 'latency' ? check.maxIncrease : check.maxChange;
  values['cles'] = mw.cles;
  const test: TestResult = { name: 'mann-whitney-u', p: mw.p, alpha: ctx.alpha, effect: ratio, minEffect };
  const what = `canary median ${fmt(mc)} vs primary ${fmt(mp)} (ratio ${ratio.toFixed(2)}, ${m.canary.length}/${m.primary.length} samples)`;
  return compared(test, what, values, `ratio < ${minEffect} or p >= ${ctx.alpha}`);
}

/**
 * Latency from the revisions' histograms over the step: every request is one observation (binned),
 * so Mann-Whitney sees hundreds of independent values rather than a few overlapping per-sample
 * quantiles; the effect is the ratio of the check's quantile (p99 by default) on each side.
 */
function judgeHistograms(
  check: Extract<CheckSpec, { type: 'latency' }>,
  m: HistogramMeasurement,
  ctx: JudgeContext,
): Judged {
  const bins = (counts: number[]) => m.bounds.map((le, i) => ({ le, count: counts[i] ?? 0 }));
  const n1 = m.canary.reduce((a, b) => a + b, 0);
  const n2 = m.primary.reduce((a, b) => a + b, 0);
  const qc = binnedQuantile(check.quantile, bins(m.canary));
  const qp = binnedQuantile(check.quantile, bins(m.primary));
  const values: Record<string, unknown> = {
    canaryRequests: n1,
    primaryRequests: n2,
    canaryQuantile: qc,
    primaryQuantile: qp,
  };
  if (n1 < ctx.minRequests) {
    return inconclusive(
      `the canary has ${n1} latency observations, fewer than minRequests ${ctx.minRequests}`,
      values,
    );
  }
  if (check.max !== undefined && qc > check.max) {
    return {
      verdict: 'fail',
      reason: `canary p${check.quantile * 100} ${fmt(qc)}s is above ${check.max}s`,
      values,
      threshold: `<= ${check.max}`,
      test: undefined,
    };
  }
  if (check.compare === 'absolute') {
    return {
      verdict: 'pass',
      reason: `canary p${check.quantile * 100} ${fmt(qc)}s`,
      values,
      threshold: check.max === undefined ? undefined : `<= ${check.max}`,
      test: undefined,
    };
  }
  if (n2 < ctx.minRequests) {
    return inconclusive(
      `the primary has ${n2} latency observations, fewer than minRequests ${ctx.minRequests}`,
      values,
    );
  }
  const mw = mannWhitneyBinned(m.canary, m.primary);
  // Slower at the median OR at the check's quantile: a p99 alone is noisy on a busy node (the
  // primary's tail can hide a canary that is slower on every request); the median is not.
  const mc = binnedQuantile(0.5, bins(m.canary));
  const mp = binnedQuantile(0.5, bins(m.primary));
  const ratio = Math.max(ratioOf(qc, qp), ratioOf(mc, mp));
  Object.assign(values, { cles: mw.cles, canaryMedian: mc, primaryMedian: mp });
  const test: TestResult = {
    name: 'mann-whitney-u',
    p: mw.p,
    alpha: ctx.alpha,
    effect: ratio,
    minEffect: check.maxIncrease,
  };
  const what = `canary p${check.quantile * 100} ${fmt(qc)}s / median ${fmt(mc)}s vs primary ${fmt(qp)}s / ${fmt(mp)}s (ratio ${ratio.toFixed(2)}, ${n1}/${n2} requests, P(canary slower) ${mw.cles.toFixed(2)})`;
  // The test and the effect must speak of the same thing. Mann-Whitney asks whether a canary request
  // tends to be slower than a primary one; binned latencies are mostly ties, so a couple of requests
  // one bucket up can make that "significant" while the p99 of a few dozen requests moves a lot (an
  // A/A canary was aborted here with P(canary slower) 0.53). So the shift itself must be at least
  // small (Vargha-Delaney A >= 0.56) before the ratio counts as an effect.
  const big = ratio >= check.maxIncrease && mw.cles >= MIN_SHIFT;
  return compared(
    test,
    what,
    values,
    `ratio < ${check.maxIncrease} or P(canary slower) < ${MIN_SHIFT} or p >= ${ctx.alpha}`,
    big,
  );
}

/** Vargha and Delaney's threshold for a "small" stochastic superiority (A12), 2000. */
const MIN_SHIFT = 0.56;

/** Worse AND significant: fail. Worse by enough but not significant yet: hold. Otherwise pass. */
function compared(
  test: TestResult,
  what: string,
  values: Record<string, unknown>,
  threshold: string,
  big = test.effect >= test.minEffect,
): Judged {
  const significant = test.p < test.alpha;
  const stat = `${test.name} p=${test.p.toPrecision(3)}`;
  if (big && significant)
    return { verdict: 'fail', reason: `${what}: worse, ${stat} < ${test.alpha}`, values, threshold, test };
  if (big) {
    return {
      verdict: 'inconclusive',
      reason: `${what}: worse by the effect size but not significant yet (${stat})`,
      values,
      threshold,
      test,
    };
  }
  return { verdict: 'pass', reason: `${what}: no meaningful degradation (${stat})`, values, threshold, test };
}

function judgeValue(check: Extract<CheckSpec, { type: 'query' }>, v: number | undefined): Judged {
  const values = { canary: v };
  const threshold = range(check.min, check.max);
  if (v === undefined || !Number.isFinite(v))
    return inconclusive(`query ${check.name} returned no value`, values);
  const bad = (check.max !== undefined && v > check.max) || (check.min !== undefined && v < check.min);
  return {
    verdict: bad ? 'fail' : 'pass',
    reason: `${check.name} = ${fmt(v)} ${bad ? 'outside' : 'within'} ${threshold}`,
    values,
    threshold,
    test: undefined,
  };
}

function inconclusive(reason: string, values: Record<string, unknown>): Judged {
  return { verdict: 'inconclusive', reason, values, threshold: undefined, test: undefined };
}

/** The worst verdict wins: fail > inconclusive > pass (Argo's IsWorse order). */
export function worst(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('inconclusive')) return 'inconclusive';
  return 'pass';
}

function ratioOf(a: number, b: number): number {
  if (b > 0) return a / b;
  return a > 0 ? Number.POSITIVE_INFINITY : 1;
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `[${min}, ${max}]`;
  if (min !== undefined) return `>= ${min}`;
  if (max !== undefined) return `<= ${max}`;
  return '(no threshold)';
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
