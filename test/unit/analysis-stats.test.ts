// The hand-written statistics against reference values computed with SciPy 1.x
// (scipy.stats.mannwhitneyu(..., alternative='greater', method='asymptotic'), fisher_exact
// (alternative='greater'), norm.sf).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  binnedQuantile,
  fisherOneSided,
  mannWhitney,
  mannWhitneyBinned,
  median,
  normalUpperTail,
  twoProportionOneSided,
} from '../../src/analysis/stats.ts';

const close = (a: number, b: number, rel = 1e-5) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-12), `${a} != ${b}`);

test('normal upper tail matches scipy norm.sf', () => {
  close(normalUpperTail(1.96), 0.024997895148220435);
  close(normalUpperTail(-0.5), 0.6914624612740131);
  close(normalUpperTail(4), 3.167124183311986e-5, 1e-4);
});

test("Fisher exact one-sided matches scipy (Fisher's tea-tasting table and a sparse error table)", () => {
  close(fisherOneSided(3, 4, 1, 4), 0.24285714285714283);
  close(fisherOneSided(5, 100, 0, 400), 0.0002949621428281589);
  assert.equal(fisherOneSided(0, 100, 0, 400), 1); // no failures anywhere: no evidence
});

test('two-proportion z-test: equal rates give no evidence, a clear rise gives a small p', () => {
  assert.equal(twoProportionOneSided(0, 1000, 0, 1000).p, 1);
  assert.ok(twoProportionOneSided(50, 1000, 10, 1000).p < 1e-6);
  assert.ok(twoProportionOneSided(10, 1000, 50, 1000).p > 0.99);
});

test('Mann-Whitney U matches scipy, with and without ties', () => {
  const a = mannWhitney([5, 6, 7, 8, 9, 10, 11, 12], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(a.u, 56);
  close(a.p, 0.0066565013819083274);
  const b = mannWhitney([1, 1, 2, 2, 3, 3, 4], [1, 2, 2, 3, 3, 3, 5, 5]);
  assert.equal(b.u, 20);
  close(b.p, 0.8451720484770717);
  assert.equal(mannWhitney([1, 1], [1, 1]).p, 1); // all tied: no variance, no evidence
});

test('median of odd, even and empty lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('binned Mann-Whitney equals the plain one on the same values with ties per bin', () => {
  const canary = [3, 0, 5, 2];
  const base = [6, 4, 1, 0];
  const expand = (counts: number[]) => counts.flatMap((n, i) => Array.from({ length: n }, () => i));
  const a = mannWhitneyBinned(canary, base);
  const b = mannWhitney(expand(canary), expand(base));
  close(a.u, b.u);
  close(a.p, b.p);
  close(a.cles, b.cles);
});

test('binned quantile interpolates inside the bucket like Prometheus histogram_quantile', () => {
  const bins = [
    { le: 0.1, count: 50 },
    { le: 0.2, count: 50 },
    { le: Number.POSITIVE_INFINITY, count: 0 },
  ];
  close(binnedQuantile(0.5, bins), 0.1);
  close(binnedQuantile(0.99, bins), 0.198);
  close(
    binnedQuantile(0.99, [
      { le: 0.1, count: 1 },
      { le: Number.POSITIVE_INFINITY, count: 99 },
    ]),
    0.1,
  );
  assert.ok(Number.isNaN(binnedQuantile(0.5, [])));
});
