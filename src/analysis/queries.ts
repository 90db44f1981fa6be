// PromQL for the built-in checks, per metrics flavour, and the template language of custom checks.
//
// Per-revision metrics (docs/analysis.md "Metrics"): KServe's Python model server labels its
// request_*_seconds histograms with model_name only (the InferenceService name, the same for canary
// and primary), so the per-revision request counts and latencies come from Knative's queue-proxy:
// - knative (Knative >= 1.19, OpenTelemetry): kn_serving_invocation_duration_seconds_{bucket,count}
//   with attributes http_response_status_code, kn_revision_name, k8s_namespace_name (seconds);
// - knative-legacy (< 1.19, OpenCensus): revision_app_request_count / _latencies_bucket (ms) with
//   response_code_class, revision_name, namespace_name.
// 1.15 and 1.21 share no metric names (aws-observability/helm-charts#353): the flavour is a setting.

export type Flavour = 'knative' | 'knative-legacy';

export interface TemplateVars {
  namespace: string;
  name: string;
  revision: string;
  /** A PromQL duration, e.g. "45s". */
  interval: string;
}

/** Fill {{namespace}} {{name}} {{revision}} {{interval}}; an unknown {{x}} is an error in the caller's config. */
export function render(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, key: string) => {
    if (!(key in vars))
      throw new Error(`unknown template variable ${all} (known: namespace, name, revision, interval)`);
    // Label values: quotes and backslashes escaped (PromQL string literal rules).
    return String(vars[key as keyof TemplateVars])
      .replace(/\\/g, '\\\\')
      .replace(/"/g, '\\"');
  });
}

interface FlavourQueries {
  total: string;
  failed: string;
  /** Requests per latency bucket over `{{interval}}` (le in seconds, or ms for legacy). */
  buckets: string;
  /** Divide le by this to get seconds. */
  leScale: number;
  /** Quantile over `{{interval}}`; `Q` is replaced by the quantile. */
  quantile: string;
}

const FLAVOURS: Record<Flavour, FlavourQueries> = {
  knative: {
    total:
      'sum(increase(kn_serving_invocation_duration_seconds_count{k8s_namespace_name="{{namespace}}",kn_revision_name="{{revision}}"}[{{interval}}]))',
    failed:
      'sum(increase(kn_serving_invocation_duration_seconds_count{k8s_namespace_name="{{namespace}}",kn_revision_name="{{revision}}",http_response_status_code=~"5.."}[{{interval}}]))',
    quantile:
      'histogram_quantile(Q, sum by (le) (rate(kn_serving_invocation_duration_seconds_bucket{k8s_namespace_name="{{namespace}}",kn_revision_name="{{revision}}"}[{{interval}}])))',
    buckets:
      'sum by (le) (increase(kn_serving_invocation_duration_seconds_bucket{k8s_namespace_name="{{namespace}}",kn_revision_name="{{revision}}"}[{{interval}}]))',
    leScale: 1,
  },
  'knative-legacy': {
    total:
      'sum(increase(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{revision}}"}[{{interval}}]))',
    failed:
      'sum(increase(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{revision}}",response_code_class="5xx"}[{{interval}}]))',
    // milliseconds in this flavour: divided so thresholds are always seconds
    quantile:
      'histogram_quantile(Q, sum by (le) (rate(revision_app_request_latencies_bucket{namespace_name="{{namespace}}",revision_name="{{revision}}"}[{{interval}}]))) / 1000',
    buckets:
      'sum by (le) (increase(revision_app_request_latencies_bucket{namespace_name="{{namespace}}",revision_name="{{revision}}"}[{{interval}}]))',
    leScale: 1000,
  },
};

export function successQueries(flavour: Flavour): { total: string; failed: string } {
  return FLAVOURS[flavour];
}

export function bucketQuery(flavour: Flavour): { query: string; leScale: number } {
  return { query: FLAVOURS[flavour].buckets, leScale: FLAVOURS[flavour].leScale };
}

export function quantileQuery(flavour: Flavour, q: number): string {
  return FLAVOURS[flavour].quantile.replace('Q', String(q));
}
