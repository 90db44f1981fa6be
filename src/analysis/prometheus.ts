// A Prometheus HTTP API client: instant and range queries, nothing else
// (https://prometheus.io/docs/prometheus/latest/querying/api/). Also what Thanos, Mimir, Cortex
// and VictoriaMetrics answer. Values arrive as strings ("NaN", "+Inf" included).
import { describeCause, KilnError } from '../errors.ts';

export interface PrometheusOptions {
  url: string;
  headers?: Record<string, string> | undefined;
  timeoutMs?: number;
}

export interface Series {
  labels: Record<string, string>;
  /** [unix seconds, value] pairs; one pair for an instant query. */
  values: Array<[number, number]>;
}

interface ApiAnswer {
  status: 'success' | 'error';
  data?: {
    resultType: 'vector' | 'matrix' | 'scalar' | 'string';
    result: unknown;
  };
  errorType?: string;
  error?: string;
}

export class PrometheusClient {
  readonly url: string;
  readonly #o: PrometheusOptions;

  constructor(o: PrometheusOptions) {
    this.url = o.url.replace(/\/+$/, '');
    this.#o = o;
  }

  /** Instant query at `timeSec` (default: now). */
  async query(promql: string, timeSec?: number): Promise<Series[]> {
    const params: Record<string, string> = { query: promql };
    if (timeSec !== undefined) params['time'] = String(timeSec);
    return this.#call('query', params, promql);
  }

  async queryRange(promql: string, startSec: number, endSec: number, stepSec: number): Promise<Series[]> {
    return this.#call(
      'query_range',
      { query: promql, start: String(startSec), end: String(endSec), step: String(stepSec) },
      promql,
    );
  }

  async #call(path: string, params: Record<string, string>, promql: string): Promise<Series[]> {
    const endpoint = `${this.url}/api/v1/${path}`;
    let res: Response;
    try {
      // POST form: long PromQL templates do not fit every proxy's URL limit.
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.#o.headers },
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
      });
    } catch (e) {
      throw new KilnError(
        'PROMETHEUS_UNREACHABLE',
        `cannot query Prometheus at ${this.url}: ${describeCause(e)}`,
        {
          hint: 'check rollout.prometheus.url in kiln.yaml and that Prometheus is reachable from here',
          cause: e,
          details: { url: this.url },
        },
      );
    }
    const text = await res.text();
    let body: ApiAnswer | undefined;
    try {
      body = JSON.parse(text) as ApiAnswer;
    } catch {
      body = undefined;
    }
    if (!res.ok || body?.status !== 'success' || !body.data) {
      throw new KilnError(
        'PROMETHEUS_QUERY_FAILED',
        `Prometheus at ${this.url} refused the query (HTTP ${res.status}${body?.error ? `: ${body.error}` : ''}): ${promql}`,
        {
          hint: 'check the PromQL (run it in the Prometheus UI); a custom check template may use {{namespace}} {{name}} {{revision}} {{interval}}',
          details: {
            url: this.url,
            status: res.status,
            errorType: body?.errorType,
            error: body?.error,
            query: promql,
          },
        },
      );
    }
    return toSeries(body.data);
  }
}

function toSeries(data: NonNullable<ApiAnswer['data']>): Series[] {
  const num = (v: unknown) => promNumber(String(v));
  if (data.resultType === 'scalar') {
    const [t, v] = data.result as [number, string];
    return [{ labels: {}, values: [[t, num(v)]] }];
  }
  if (data.resultType === 'vector') {
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({
      labels: r.metric,
      values: [[r.value[0], num(r.value[1])]],
    }));
  }
  if (data.resultType === 'matrix') {
    return (data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map(
      (r) => ({
        labels: r.metric,
        values: r.values.map(([t, v]) => [t, num(v)] as [number, number]),
      }),
    );
  }
  return [];
}

/** Prometheus' float text: "+Inf" and "-Inf" (which JavaScript's Number() reads as NaN), "NaN", numbers. */
export function promNumber(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** The single value of an instant query; undefined for no series or NaN; several series are summed. */
export function scalarOf(series: Series[]): number | undefined {
  if (series.length === 0) return undefined;
  let sum = 0;
  for (const s of series) {
    const v = s.values[0]?.[1];
    if (v === undefined || Number.isNaN(v)) return undefined;
    sum += v;
  }
  return sum;
}
