// The statistics the judge uses, by hand. Why not a library: simple-statistics has no Fisher exact
// test and no Mann-Whitney U with a tie correction, jStat is unmaintained since 2020, and what kiln
// needs is ~120 lines of textbook formulas whose edge cases (zero counts, ties, tiny samples) the
// unit tests pin down. References: Fisher's exact test (hypergeometric tail, Agresti, Categorical
// Data Analysis 3.5.1); pooled two-proportion z-test (ibid. 3.1); Mann-Whitney U with the normal
// approximation and tie correction (Lehmann, Nonparametrics 1.4); CLES = U / (n1 n2) (McGraw and
// Wong 1992), the effect size Kayenta also offers.

/** Standard normal upper tail P(Z > z), via erfc (Abramowitz-Stegun 7.1.26 is too coarse in the tail). */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** erfc with ~1e-7 relative error everywhere (Numerical Recipes' Chebyshev fit, `erfcc`). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/** Memoised log n! up to what Fisher needs (counts of one interval: thousands at most). */
const LF: number[] = [0];
function lf(n: number): number {
  if (n < LF.length) return LF[n] as number;
  if (n > 200_000) return logFactorial(n);
  for (let i = LF.length; i <= n; i++) LF[i] = (LF[i - 1] as number) + Math.log(i);
  return LF[n] as number;
}

/**
 * One-sided Fisher exact test: p-value of "the canary's failure share is at least what was seen",
 * given both sides' failures and totals (hypergeometric upper tail on the canary's failures).
 */
export function fisherOneSided(
  canaryFail: number,
  canaryTotal: number,
  baseFail: number,
  baseTotal: number,
): number {
  const fails = canaryFail + baseFail;
  const n = canaryTotal + baseTotal;
  const logP = (k: number) =>
    lf(fails) +
    lf(n - fails) +
    lf(canaryTotal) +
    lf(baseTotal) -
    lf(n) -
    lf(k) -
    lf(fails - k) -
    lf(canaryTotal - k) -
    lf(baseTotal - fails + k);
  const hi = Math.min(fails, canaryTotal);
  let p = 0;
  for (let k = canaryFail; k <= hi; k++) p += Math.exp(logP(k));
  return Math.min(1, p);
}

/** One-sided pooled two-proportion z-test: is the canary's failure rate higher than the baseline's? */
export function twoProportionOneSided(
  canaryFail: number,
  canaryTotal: number,
  baseFail: number,
  baseTotal: number,
): { z: number; p: number } {
  const p1 = canaryFail / canaryTotal;
  const p2 = baseFail / baseTotal;
  const pooled = (canaryFail + baseFail) / (canaryTotal + baseTotal);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / canaryTotal + 1 / baseTotal));
  if (se === 0) return { z: 0, p: 1 }; // both sides all-success or all-failure: no evidence either way
  const z = (p1 - p2) / se;
  return { z, p: normalUpperTail(z) };
}

export interface MannWhitney {
  u: number;
  z: number;
  /** One-sided p-value of "the canary's values are stochastically larger". */
  p: number;
  /** Common-language effect size P(canary > baseline) + 0.5 P(tie), 0.5 = no difference. */
  cles: number;
}

/** Mann-Whitney U of `canary` against `base`, normal approximation with tie and continuity correction. */
export function mannWhitney(canary: readonly number[], base: readonly number[]): MannWhitney {
  const n1 = canary.length;
  const n2 = base.length;
  const all = [...canary.map((v) => ({ v, c: true })), ...base.map((v) => ({ v, c: false }))].sort(
    (a, b) => a.v - b.v,
  );
  let rankSumCanary = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const rank = (i + j + 2) / 2; // average rank of the tied run (1-based)
    const t = j - i + 1;
    if (t > 1) tieTerm += t ** 3 - t;
    for (let k = i; k <= j; k++) if ((all[k] as { c: boolean }).c) rankSumCanary += rank;
    i = j + 1;
  }
  const u = rankSumCanary - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const cles = u / (n1 * n2);
  if (variance <= 0) return { u, z: 0, p: 1, cles };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, p: normalUpperTail(z), cles };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** One histogram bin: requests with latency in (previous le, le]. */
export interface Bin {
  le: number;
  count: number;
}

/**
 * Mann-Whitney U on binned observations (Prometheus histogram buckets: every request is one
 * observation, ties within a bucket), one-sided "canary larger". Both sides must use the same bins
 * in ascending order. Same formulas as `mannWhitney`, with a tie group per bin.
 */
export function mannWhitneyBinned(canary: readonly number[], base: readonly number[]): MannWhitney {
  const n1 = canary.reduce((a, b) => a + b, 0);
  const n2 = base.reduce((a, b) => a + b, 0);
  let below = 0; // baseline observations in lower bins
  let u = 0;
  let tieTerm = 0;
  for (let i = 0; i < canary.length; i++) {
    const c = canary[i] ?? 0;
    const b = base[i] ?? 0;
    u += c * (below + 0.5 * b);
    below += b;
    const t = c + b;
    if (t > 1) tieTerm += t ** 3 - t;
  }
  const n = n1 + n2;
  const cles = n1 * n2 > 0 ? u / (n1 * n2) : 0.5;
  const variance = n > 1 ? ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  if (variance <= 0) return { u, z: 0, p: 1, cles };
  const z = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return { u, z, p: normalUpperTail(z), cles };
}

/** histogram_quantile as Prometheus computes it: linear within the bucket, lower bound 0. */
export function binnedQuantile(q: number, bins: readonly Bin[]): number {
  const total = bins.reduce((a, b) => a + b.count, 0);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let cum = 0;
  let lower = 0;
  for (const b of bins) {
    if (cum + b.count >= rank && b.count > 0) {
      if (!Number.isFinite(b.le)) return lower; // in +Inf: the highest finite bound, as Prometheus
      return lower + (b.le - lower) * ((rank - cum) / b.count);
    }
    cum += b.count;
    if (Number.isFinite(b.le)) lower = b.le;
  }
  return lower;
}
