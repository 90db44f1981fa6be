// The metrics kiln serve exposes on /metrics. Every label value is created at zero up front, so a
// dashboard's rate() sees the series before the first event of each kind.
import { type Counter, type Histogram, Registry } from './metrics.ts';

/** What happened to a webhook delivery; each answer (docs/serve.md) has exactly one verdict. */
export const VERDICTS = [
  'accepted',
  'duplicate',
  'ignored',
  'unsigned',
  'forged',
  'stale',
  'malformed',
  'too_large',
  'unwatched',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export const RESULTS = ['succeeded', 'failed', 'superseded', 'blocked'] as const;
export type PromotionResultLabel = (typeof RESULTS)[number];

export interface KilnMetrics {
  registry: Registry;
  promotions: Counter;
  duration: Histogram;
  bytesPushed: Counter;
  deliveries: Counter;
}

/** Promotions take seconds (a reused image) to many minutes (a multi-GB model). */
const DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export function kilnMetrics(read: { queueDepth: () => number; running: () => number }): KilnMetrics {
  const registry = new Registry();
  const promotions = registry.counter(
    'kiln_promotions_total',
    'Promotions finished, by result (superseded: dropped from the queue for a newer version; blocked: refused by the model security scan).',
  );
  for (const result of RESULTS) promotions.inc({ result }, 0);
  const duration = registry.histogram(
    'kiln_promotion_duration_seconds',
    'Wall time of promotions that ran to an outcome (succeeded or failed).',
    DURATION_BUCKETS,
  );
  const bytesPushed = registry.counter(
    'kiln_bytes_pushed_total',
    'Model layer bytes uploaded by successful promotions (0 for a reused image).',
  );
  bytesPushed.inc({}, 0);
  const deliveries = registry.counter(
    'kiln_webhook_deliveries_total',
    'MLflow webhook deliveries, by verdict.',
  );
  for (const verdict of VERDICTS) deliveries.inc({ verdict }, 0);
  registry.gauge('kiln_queue_depth', 'Promotions queued and not yet running.', read.queueDepth);
  registry.gauge('kiln_promotions_running', 'Promotions running now.', read.running);
  return { registry, promotions, duration, bytesPushed, deliveries };
}
