import { z } from 'zod';

// The rollout policy of kiln's canary analysis (docs/analysis.md): kiln.yaml `rollout:` holds the
// defaults for every model, `models[].rollout` overrides them field by field. Defaults are set
// here, once, and explained.

/** A built-in or custom check. Each runs every interval against Prometheus. */
export const CheckSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('success-rate'),
      name: z.string().min(1).default('success-rate'),
      /** primary: canary against primary, Fisher exact on failure counts; absolute: canary alone against `min`. */
      compare: z.enum(['primary', 'absolute']).default('primary'),
      /** Absolute floor of the canary's success ratio (0..1), also applied when comparing. */
      min: z.number().min(0).max(1).optional(),
      /** Smallest failure-rate increase (0..1) that counts as worse: 0.01 = one percentage point. */
      maxIncrease: z.number().min(0).max(1).default(0.01),
    })
    .strict(),
  z
    .object({
      type: z.literal('latency'),
      name: z.string().min(1).default('latency-p99'),
      quantile: z.number().gt(0).lt(1).default(0.99),
      compare: z.enum(['primary', 'absolute']).default('primary'),
      /** Absolute ceiling in seconds for the canary's quantile over the step. */
      max: z.number().positive().optional(),
      /** Smallest ratio canary/primary (at `quantile` or at the median, the larger) that counts as slower. */
      maxIncrease: z.number().min(1).default(1.25),
    })
    .strict(),
  z
    .object({
      type: z.literal('query'),
      name: z.string().min(1),
      /** PromQL returning one value; {{namespace}} {{name}} {{revision}} {{interval}} are filled in. */
      query: z.string().min(1),
      compare: z.enum(['primary', 'absolute']).default('absolute'),
      min: z.number().optional(),
      max: z.number().optional(),
      /** For compare: primary: which direction is worse, and by what ratio at least. */
      worse: z.enum(['higher', 'lower']).default('higher'),
      maxChange: z.number().min(1).default(1.25),
    })
    .strict(),
]);

export const AgreementSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Share of answers that must match (classification labels, or numbers within tolerance). */
    minAgreement: z.number().min(0).max(1).default(1),
    /** Numbers match when |a-b| <= absTolerance + relTolerance*|b| (regression outputs, probabilities). */
    absTolerance: z.number().min(0).default(1e-6),
    relTolerance: z.number().min(0).default(1e-6),
    /** An artifact of the model version's run (JSON: {"instances": [...]} or a list of rows). */
    dataset: z.string().min(1).optional(),
  })
  .strict();

export const RolloutPartialSchema = z
  .object({
    /** Canary traffic percentages, in order; after the last one passes, kiln promotes. */
    steps: z.array(z.number().int().min(1).max(99)).min(1).optional(),
    /** Seconds between judgements (each step lasts at least one interval). */
    interval: z.number().positive().optional(),
    /** Requests the canary (and the primary) must have served in a step before it can be judged. */
    minRequests: z.number().int().min(1).optional(),
    /** Significance level of the statistical comparisons (one-sided). */
    alpha: z.number().gt(0).lt(0.5).optional(),
    /** Inconclusive intervals in a row (not enough data) before `onInconclusive` happens. */
    inconclusiveLimit: z.number().int().min(1).optional(),
    onInconclusive: z.enum(['abort', 'pause']).optional(),
    /** Prometheus' scrape interval in seconds: a rate() window must span several scrapes. */
    scrapeInterval: z.number().positive().optional(),
    /**
     * Seconds at the start of each step left out of its metric window: a revision that just got
     * traffic is cold (first requests, caches, autoscaling), like Kayenta's beginAfterMins.
     */
    warmup: z.number().min(0).optional(),
    /** Failed intervals in a step before the canary is aborted (1: the first failure aborts). */
    failureLimit: z.number().int().min(1).optional(),
    /** On abort: move the alias back to the version still serving, and tag the failed version. */
    onAbort: z
      .object({ moveAliasBack: z.boolean().optional(), tag: z.boolean().optional() })
      .strict()
      .optional(),
    prometheus: z
      .object({
        url: z.string().url(),
        /** Extra headers (e.g. an X-Scope-OrgID for Mimir/Thanos tenants). */
        headers: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    /**
     * Which per-revision metrics the cluster has: knative (Knative >= 1.19, OpenTelemetry names),
     * knative-legacy (queue-proxy < 1.19), see docs/analysis.md.
     */
    metrics: z.enum(['knative', 'knative-legacy']).optional(),
    checks: z.array(CheckSchema).optional(),
    agreement: AgreementSchema.partial().optional(),
  })
  .strict();

export type CheckSpec = z.infer<typeof CheckSchema>;
export type RolloutPartial = z.infer<typeof RolloutPartialSchema>;

export interface RolloutPolicy {
  steps: number[];
  interval: number;
  minRequests: number;
  alpha: number;
  inconclusiveLimit: number;
  onInconclusive: 'abort' | 'pause';
  scrapeInterval: number;
  warmup: number;
  failureLimit: number;
  onAbort: { moveAliasBack: boolean; tag: boolean };
  prometheus: { url: string; headers: Record<string, string> } | undefined;
  metrics: 'knative' | 'knative-legacy';
  checks: CheckSpec[];
  agreement: z.infer<typeof AgreementSchema>;
}

/** Flagger's default ladder shape; one minute per step like Flagger's and Argo's examples. */
export const DEFAULT_POLICY: RolloutPolicy = {
  steps: [10, 25, 50],
  interval: 60,
  minRequests: 50,
  alpha: 0.01,
  inconclusiveLimit: 3,
  onInconclusive: 'abort',
  scrapeInterval: 15,
  warmup: 10,
  failureLimit: 1,
  onAbort: { moveAliasBack: false, tag: true },
  prometheus: undefined,
  metrics: 'knative',
  checks: [CheckSchema.parse({ type: 'success-rate' }), CheckSchema.parse({ type: 'latency' })],
  agreement: AgreementSchema.parse({}),
};

/** Defaults < kiln.yaml `rollout:` < `models[].rollout`, field by field. */
export function resolvePolicy(...layers: Array<RolloutPartial | undefined>): RolloutPolicy {
  let p: RolloutPolicy = structuredClone(DEFAULT_POLICY);
  for (const l of layers) {
    if (!l) continue;
    p = {
      steps: l.steps ?? p.steps,
      interval: l.interval ?? p.interval,
      minRequests: l.minRequests ?? p.minRequests,
      alpha: l.alpha ?? p.alpha,
      inconclusiveLimit: l.inconclusiveLimit ?? p.inconclusiveLimit,
      onInconclusive: l.onInconclusive ?? p.onInconclusive,
      scrapeInterval: l.scrapeInterval ?? p.scrapeInterval,
      warmup: l.warmup ?? p.warmup,
      failureLimit: l.failureLimit ?? p.failureLimit,
      onAbort: { ...p.onAbort, ...stripUndefined(l.onAbort ?? {}) },
      prometheus: l.prometheus
        ? { url: l.prometheus.url, headers: l.prometheus.headers ?? {} }
        : p.prometheus,
      metrics: l.metrics ?? p.metrics,
      checks: l.checks ?? p.checks,
      agreement: { ...p.agreement, ...stripUndefined(l.agreement ?? {}) },
    };
  }
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
