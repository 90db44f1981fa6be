// The promotion queue: dedupe + coalescing (coalesce.ts) decided and recorded in one SQLite
// transaction, and a worker pool that runs at most `concurrency` promotions, one per model at a
// time. Offers return as soon as the decision is committed; promotions start on a later tick, so
// a webhook is answered before any work runs.
import { describeCause, isKilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { Promoter } from '../pipeline/promote-types.ts';
import { type Decision, decide, decisionWord, type Offer } from './coalesce.ts';
import type { KilnMetrics } from './kiln-metrics.ts';
import type { PromotionRow, PromotionSource, StateStore } from './state.ts';

export interface QueueOptions {
  store: StateStore;
  promoter: Promoter;
  /** Promotions running at once across models (one per model regardless). */
  concurrency: number;
  metrics: KilnMetrics;
  log?: Logger;
  nowMs?: () => number;
}

export interface QueuedOffer extends Offer {
  source: PromotionSource;
  deliveryId?: string | undefined;
}

export interface OfferOutcome {
  decision: Decision;
  /** queued | queued-superseding | already-queued | already-running | already-deployed | outdated */
  word: string;
  /** The queued promotion, when one was added. */
  promotionId: number | undefined;
}

interface Running {
  row: PromotionRow;
  abort: AbortController;
  done: Promise<void>;
}

export class PromotionQueue {
  readonly #o: Required<QueueOptions>;
  readonly #running = new Map<number, Running>();
  #kickScheduled = false;
  #started = false;
  #closing = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: QueueOptions) {
    this.#o = { log: silentLogger, nowMs: Date.now, ...options };
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Resume what a previous process was running (promote is idempotent and resumable), then work. */
  start(): void {
    this.#started = true;
    for (const row of this.#o.store.interrupted()) {
      this.#o.log.warn('resuming a promotion interrupted by a restart', {
        model: row.name,
        version: row.version,
        promotion: row.id,
      });
      this.#run(this.#o.store.resume(row.id, this.#o.nowMs()));
    }
    this.#kick();
  }

  /** A webhook delivery: dedupe by delivery id and coalesce, atomically. Undefined = seen before. */
  acceptDelivery(deliveryId: string, offer: Offer): OfferOutcome | undefined {
    const { store } = this.#o;
    const out = store.transaction(() => {
      if (!store.recordDelivery(deliveryId, this.#o.nowMs(), offer.name, offer.version)) return undefined;
      const o = this.#apply({ ...offer, source: 'webhook', deliveryId });
      store.setDeliveryDecision(deliveryId, o.word);
      return o;
    });
    if (out) this.#after(out, offer);
    return out;
  }

  /** An alias read by the reconciler. */
  offer(offer: QueuedOffer): OfferOutcome {
    const out = this.#o.store.transaction(() => this.#apply(offer));
    this.#after(out, offer);
    return out;
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stop starting promotions; give running ones `graceMs` to finish (and be recorded), then abort
   * them. Whatever is still running stays "running" in the store and is resumed at the next start.
   */
  async stop(graceMs: number): Promise<{ unfinished: number }> {
    this.#closing = true;
    const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
    let unfinished = 0;
    if (this.#running.size > 0 && !(await within(all(), graceMs))) {
      unfinished = this.#running.size;
      for (const r of this.#running.values()) r.abort.abort(new Error('kiln serve is shutting down'));
      await within(all(), 2000);
    }
    this.#closed = true;
    return { unfinished };
  }

  #apply(offer: QueuedOffer): OfferOutcome {
    const { store } = this.#o;
    const decision = decide(store.modelState(offer.name), offer);
    if (decision.action !== 'ignore' || decision.reason !== 'outdated') {
      store.setLastEventAt(offer.name, offer.eventAtUs);
    }
    let promotionId: number | undefined;
    const now = this.#o.nowMs();
    if (decision.action === 'drop-queued') store.supersede(decision.drop, now);
    if (decision.action === 'enqueue') {
      if (decision.drop !== undefined) store.supersede(decision.drop, now);
      promotionId = store.insertQueued({ ...offer, deliveryId: offer.deliveryId, nowMs: now }).id;
      if (decision.drop !== undefined) store.linkSuperseded(decision.drop, promotionId);
    }
    return { decision, word: decisionWord(decision), promotionId };
  }

  #after(out: OfferOutcome, offer: Offer): void {
    const d = out.decision;
    const dropped = d.action === 'drop-queued' ? d.drop : d.action === 'enqueue' ? d.drop : undefined;
    if (dropped !== undefined) this.#o.metrics.promotions.inc({ result: 'superseded' });
    const level = out.promotionId !== undefined || dropped !== undefined ? 'info' : 'debug';
    this.#o.log[level](`offer ${offer.name}/${offer.version}: ${out.word}`, {
      model: offer.name,
      version: offer.version,
      decision: out.word,
      promotion: out.promotionId,
      superseded: dropped,
    });
    if (out.promotionId !== undefined) this.#kick();
  }

  /** Start what can start, on a later tick (never inside the caller's request). */
  #kick(): void {
    if (this.#kickScheduled || this.#closing || !this.#started) return;
    this.#kickScheduled = true;
    setImmediate(() => {
      this.#kickScheduled = false;
      while (!this.#closing && this.#running.size < this.#o.concurrency) {
        const row = this.#o.store.claimNext(this.#o.nowMs());
        if (!row) break;
        this.#run(row);
      }
      this.#notifyIdle();
    });
  }

  #run(row: PromotionRow): void {
    const abort = new AbortController();
    const { store, metrics, log } = this.#o;
    const t0 = performance.now();
    log.info(`promoting ${row.name}/${row.version}`, {
      model: row.name,
      version: row.version,
      promotion: row.id,
      attempt: row.attempts,
    });
    const entry: Running = { row, abort, done: Promise.resolve() };
    this.#running.set(row.id, entry);
    entry.done = (async () => {
      try {
        const r = await this.#o.promoter({ name: row.name, version: row.version, signal: abort.signal });
        const seconds = (performance.now() - t0) / 1000;
        if (this.#closed) return; // the store may be closed: the next start resumes it
        store.succeed(row.id, r, this.#o.nowMs());
        metrics.promotions.inc({ result: 'succeeded' });
        metrics.duration.observe(seconds);
        metrics.bytesPushed.inc({}, r.bytesPushed);
        log.info(`promoted ${row.name}/${row.version}: ${r.reference}`, {
          model: row.name,
          version: row.version,
          promotion: row.id,
          digest: r.digest,
          reference: r.reference,
          signed: r.signed,
          deployedTo: r.deployedTo,
          reused: r.reused,
          bytesPushed: r.bytesPushed,
          seconds,
        });
      } catch (e) {
        const seconds = (performance.now() - t0) / 1000;
        // Aborted by shutdown: not a failure; it stays "running" and is resumed at the next start.
        if (this.#closed || abort.signal.aborted) return;
        const error = isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
        store.fail(row.id, error, this.#o.nowMs());
        metrics.promotions.inc({ result: 'failed' });
        metrics.duration.observe(seconds);
        log.error(`promotion of ${row.name}/${row.version} failed`, {
          model: row.name,
          version: row.version,
          promotion: row.id,
          error,
          hint: isKilnError(e) ? e.hint : undefined,
          seconds,
        });
      } finally {
        this.#running.delete(row.id);
        this.#kick();
        this.#notifyIdle();
      }
    })();
  }

  #isIdle(): boolean {
    return this.#running.size === 0 && (this.#closed || this.#o.store.counts().queued === 0);
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || this.#kickScheduled || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** True when `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  const ok = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return ok;
}
