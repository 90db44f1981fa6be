// The metric provider: turns a check into PromQL for the canary's and the primary's revisions,
// runs it, and hands the judge plain numbers. Kept apart from the judge so the judge stays pure and
// another provider (recorded series in bench/analysis.ts) can feed it.
import type { CheckSpec } from '../config/rollout.ts';
import type { PrometheusClient, Series } from './prometheus.ts';
import { promNumber, scalarOf } from './prometheus.ts';
import { bucketQuery, type Flavour, render, successQueries, type TemplateVars } from './queries.ts';
import type { Measurement } from './types.ts';

export interface Revisions {
  namespace: string;
  name: string;
  canary: string;
  /** Undefined on a first deploy (nothing rolled out yet): comparisons are then inconclusive. */
  primary: string | undefined;
}

export interface Window {
  /** Metric window start (the step's start) and end, unix seconds. */
  startSec: number;
  endSec: number;
  /** Prometheus' scrape interval: a rate() needs at least two scrapes in its window. */
  scrapeSec: number;
}

export interface Measured {
  measurement: Measurement;
  queries: string[];
}

export interface MetricSource {
  measure(check: CheckSpec, revs: Revisions, w: Window): Promise<Measured>;
}

export function prometheusSource(prom: PrometheusClient, flavour: Flavour): MetricSource {
  return {
    async measure(check, revs, w) {
      const seconds = Math.max(1, Math.round(w.endSec - w.startSec));
      const vars = (revision: string, interval = `${seconds}s`): TemplateVars => ({
        namespace: revs.namespace,
        name: revs.name,
        revision,
        interval,
      });
      const queries: string[] = [];
      const instant = async (template: string, revision: string) => {
        const q = render(template, vars(revision));
        queries.push(q);
        return scalarOf(await prom.query(q, w.endSec));
      };
      // One observation per sample step; each sample's rate() window spans several scrapes.
      const stepSec = Math.max(1, Math.round(seconds / 20), w.scrapeSec);
      const inner = Math.max(2 * stepSec, 4 * w.scrapeSec);
      const samples = async (template: string, revision: string) => {
        const q = render(template, vars(revision, `${inner}s`));
        queries.push(`${q} [range ${seconds}s step ${stepSec}s]`);
        const start = Math.min(w.startSec + inner, w.endSec);
        return finite(await prom.queryRange(q, start, w.endSec, stepSec));
      };

      if (check.type === 'success-rate') {
        const sq = successQueries(flavour);
        const side = async (rev: string) => {
          const total = Math.round((await instant(sq.total, rev)) ?? 0);
          const failed = Math.min(total, Math.round((await instant(sq.failed, rev)) ?? 0));
          return { total, failed };
        };
        const canary = await side(revs.canary);
        const primary = revs.primary ? await side(revs.primary) : undefined;
        return { measurement: { kind: 'counts', canary, primary }, queries };
      }
      if (check.type === 'latency') {
        // Per-request latencies: each revision's histogram over the step (bins aligned by le).
        const bq = bucketQuery(flavour);
        const bucketsOf = async (rev: string) => {
          const q = render(bq.query, vars(rev));
          queries.push(q);
          const out = new Map<number, number>();
          for (const s of await prom.query(q, w.endSec)) {
            const le = promNumber(s.labels['le'] ?? 'NaN') / bq.leScale;
            if (Number.isNaN(le)) continue;
            const v = s.values[0]?.[1];
            if (Number.isFinite(v)) out.set(le, Math.max(0, Math.round(v as number)));
          }
          return out;
        };
        const c = await bucketsOf(revs.canary);
        const p = revs.primary ? await bucketsOf(revs.primary) : new Map<number, number>();
        const bounds = [...new Set([...c.keys(), ...p.keys()])].sort((a, b) => a - b);
        // cumulative -> per bin (a missing bound on one side: carry its cumulative count forward)
        const perBin = (m: Map<number, number>) => {
          let prev = 0;
          let last = 0;
          return bounds.map((le) => {
            const cum = Math.max(m.get(le) ?? last, prev);
            last = cum;
            const n = cum - prev;
            prev = cum;
            return n;
          });
        };
        return {
          measurement: { kind: 'histograms', bounds, canary: perBin(c), primary: perBin(p) },
          queries,
        };
      }
      const template = check.query;
      if (check.compare === 'absolute' && check.type === 'query') {
        return { measurement: { kind: 'value', canary: await instant(template, revs.canary) }, queries };
      }
      const canaryOverall = await instant(template, revs.canary);
      if (check.compare === 'absolute') {
        return { measurement: { kind: 'samples', canary: [], primary: [], canaryOverall }, queries };
      }
      const canary = await samples(template, revs.canary);
      const primary = revs.primary ? await samples(template, revs.primary) : [];
      return { measurement: { kind: 'samples', canary, primary, canaryOverall }, queries };
    },
  };
}

/** Every finite value of every series (NaN = no requests in that sample: removed, Kayenta's default). */
function finite(series: Series[]): number[] {
  return series.flatMap((s) => s.values.map(([, v]) => v)).filter((v) => Number.isFinite(v));
}
