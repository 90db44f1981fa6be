// Rows of the state store as the rest of the server sees them (state.ts maps SQLite rows here).

/**
 * queued -> running -> succeeded | failed; queued -> superseded (a newer version of the same
 * model arrived before it started). Only succeeded rows count as "deployed".
 */
export type PromotionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'superseded';
export type PromotionSource = 'webhook' | 'reconcile';

export interface PromotionRow {
  id: number;
  name: string;
  version: string;
  status: PromotionStatus;
  source: PromotionSource;
  deliveryId: string | undefined;
  eventAtUs: number;
  queuedAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  attempts: number;
  digest: string | undefined;
  reference: string | undefined;
  signed: boolean | undefined;
  deployedTo: string | undefined;
  reused: boolean | undefined;
  bytesPushed: number | undefined;
  error: string | undefined;
  supersededBy: number | undefined;
}

/** A promotion as the coalescing rules see it. */
export interface PromotionRef {
  id: number;
  version: string;
}

/** What the coalescing rules look at for one model (queue.ts `decide`). */
export interface ModelState {
  /** The newest alias event seen for the model (µs); older deliveries are out of date. */
  lastEventAtUs: number | undefined;
  queued: PromotionRef | undefined;
  running: PromotionRef | undefined;
  /** The most recent successful promotion: what the model serves now, as far as kiln knows. */
  deployed: PromotionRef | undefined;
}

export type Row = Record<string, string | number | null>;

export function fromRow(r: Row): PromotionRow {
  const s = (k: string) => (r[k] === null || r[k] === undefined ? undefined : String(r[k]));
  const n = (k: string) => (r[k] === null || r[k] === undefined ? undefined : Number(r[k]));
  const b = (k: string) => (r[k] === null || r[k] === undefined ? undefined : r[k] === 1);
  return {
    id: Number(r['id']),
    name: String(r['name']),
    version: String(r['version']),
    status: r['status'] as PromotionStatus,
    source: r['source'] as PromotionSource,
    deliveryId: s('delivery_id'),
    eventAtUs: Number(r['event_us']),
    queuedAt: Number(r['queued_at']),
    startedAt: n('started_at'),
    finishedAt: n('finished_at'),
    attempts: Number(r['attempts']),
    digest: s('digest'),
    reference: s('reference'),
    signed: b('signed'),
    deployedTo: s('deployed_to'),
    reused: b('reused'),
    bytesPushed: n('bytes_pushed'),
    error: s('error'),
    supersededBy: n('superseded_by'),
  };
}
