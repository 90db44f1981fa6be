// The promotion queue: dedupe + coalescing (coalesce.ts) decided and recorded in one SQLite
// transaction, and a worker pool that runs at most `concurrency` promotions, one per model at a
// time. Offers return as soon as the decision is committed; promotions start on a later tick, so
// a webhook is answered before any work runs.
import { type Logger, silentLogger } from '../log.ts';
import type { PromoteResult, Promoter } from '../pipeline/promote-types.ts';
import { type Decision, decide, decisionWord, type Offer } from './coalesce.ts';
import { GroupCommit } from './group-commit.ts';
import type { KilnMetrics } from './kiln-metrics.ts';
import { type Outcome, runPromotion } from './promotion-run.ts';
import type { PromotionRow, PromotionSource, StateStore } from './state.ts';

export interface QueueOptions {
  store: StateStore;
  promoter: Promoter;
  /** Promotions running at once across models (one per model regardless). */
  concurrency: number;
  metrics: KilnMetrics;
  log?: Logger;
  nowMs?: () => number;
  /** Called after a succeeded promotion is recorded (kiln serve starts its canary analysis here). */
  onSucceeded?: ((promotionId: number, result: PromoteResult) => void) | undefined;
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
  readonly #o: Required<Omit<QueueOptions, 'onSucceeded'>> & Pick<QueueOptions, 'onSucceeded'>;
  readonly #running = new Map<number, Running>();
  #kickScheduled = false;
  /** The next scheduled turn also claims (something may have become startable). */
  #claimNeeded = false;
  /** Marked running in the store with a batch of deliveries; started by the next #schedule. */
  #claimed: PromotionRow[] = [];
  #started = false;
  #closing = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  readonly #outcomes = new GroupCommit((o: Outcome[]) => this.#recordOutcomes(o));
  readonly #deliveries = new GroupCommit((b: Array<{ deliveryId: string; offer: Offer }>) =>
    this.#acceptBatch(b),
  );

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

  /**
   * A webhook delivery: dedupe by delivery id and coalesce, atomically and durably (group
   * commit with the other deliveries of this event-loop turn). Undefined = seen before.
   */
  acceptDelivery(deliveryId: string, offer: Offer): Promise<OfferOutcome | undefined> {
    return this.#deliveries.submit({ deliveryId, offer });
  }

  /**
   * The batch's deliveries, and (same commit) the promotions that may start now: one commit per
   * delivery instead of two when deliveries arrive one by one. They start on the next turn,
   * after the answers are written. No later claim is needed: with no free slot, the promotion
   * that frees one claims in its own commit (#recordOutcomes).
   */
  #acceptBatch(batch: Array<{ deliveryId: string; offer: Offer }>): Array<OfferOutcome | undefined> {
    const { store } = this.#o;
    let claimed: PromotionRow[] = [];
    const outs = store.transaction(() => {
      const outs = batch.map(({ deliveryId, offer }) => {
        if (store.seenDelivery(deliveryId)) return undefined;
        const o = this.#apply({ ...offer, source: 'webhook', deliveryId });
        store.recordDelivery(deliveryId, this.#o.nowMs(), offer.name, offer.version, o.word);
        return o;
      });
      const free = this.#free();
      if (this.#started && !this.#closing && free > 0 && outs.some((o) => o?.promotionId !== undefined)) {
        claimed = store.claim(free, this.#o.nowMs());
      }
      return outs;
    });
    // Only once committed: a failed commit claimed nothing.
    for (const [i, out] of outs.entries()) if (out) this.#after(out, batch[i]!.offer, 'webhook');
    if (claimed.length > 0) {
      this.#claimed.push(...claimed);
      this.#schedule();
    }
    return outs;
  }

  /** Slots for promotions to start: running ones and claimed ones about to start count. */
  #free(ending?: ReadonlySet<number>): number {
    let busy = this.#claimed.length;
    for (const id of this.#running.keys()) if (!ending?.has(id)) busy++;
    return this.#o.concurrency - busy;
  }

  /** An alias read by the reconciler. */
  offer(offer: QueuedOffer): OfferOutcome {
    const out = this.#o.store.transaction(() => this.#apply(offer));
    this.#after(out, offer, offer.source);
    if (out.promotionId !== undefined) this.#kick();
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
      promotionId = store.insertQueued({ ...offer, deliveryId: offer.deliveryId, nowMs: now });
      if (decision.drop !== undefined) store.linkSuperseded(decision.drop, promotionId);
    }
    return { decision, word: decisionWord(decision), promotionId };
  }

  #after(out: OfferOutcome, offer: Offer, source: PromotionSource): void {
    const d = out.decision;
    const dropped = d.action === 'drop-queued' ? d.drop : d.action === 'enqueue' ? d.drop : undefined;
    if (dropped !== undefined) this.#o.metrics.promotions.inc({ result: 'superseded' });
    // The webhook handler logs its deliveries; the reconciler's changes are logged here.
    const level =
      source === 'reconcile' && (out.promotionId !== undefined || dropped !== undefined) ? 'info' : 'debug';
    this.#o.log[level](`offer ${offer.name}/${offer.version}: ${out.word}`, {
      model: offer.name,
      version: offer.version,
      decision: out.word,
      promotion: out.promotionId,
      superseded: dropped,
    });
  }

  /** Claim and start what can start, on a later tick (never inside the caller's request). */
  #kick(): void {
    this.#claimNeeded = true;
    this.#schedule();
  }

  /** On a later tick: start the claimed promotions, then claim more if a #kick asked for it. */
  #schedule(): void {
    if (this.#kickScheduled || this.#closing || !this.#started) return;
    this.#kickScheduled = true;
    setImmediate(() => {
      this.#kickScheduled = false;
      const claimed = this.#claimed;
      this.#claimed = [];
      // Stopping: claimed ones stay "running" in the store and are resumed at the next start.
      if (!this.#closing) for (const row of claimed) this.#run(row);
      const claim = this.#claimNeeded;
      this.#claimNeeded = false;
      const free = this.#free();
      if (claim && !this.#closing && free > 0) {
        for (const row of this.#o.store.claim(free, this.#o.nowMs())) this.#run(row);
      }
      this.#notifyIdle();
    });
  }

  #run(row: PromotionRow): void {
    const abort = new AbortController();
    const entry: Running = { row, abort, done: Promise.resolve() };
    this.#running.set(row.id, entry);
    entry.done = runPromotion(this.#o.promoter, row, abort.signal, this.#o.log)
      // the store may be closed once stopped: what is unrecorded is resumed at the next start
      .then((outcome) =>
        this.#closed || outcome.kind === 'aborted' ? undefined : this.#outcomes.submit(outcome),
      )
      .catch((e: unknown) => {
        this.#o.log.error('recording a promotion outcome failed', { error: String(e) });
        this.#kick(); // its commit did not claim the next ones
      })
      // No claim here: recording the outcome claimed in the same commit (#recordOutcomes).
      .finally(() => {
        this.#running.delete(row.id);
        this.#notifyIdle();
      });
  }

  /**
   * Outcomes that end in the same turn are recorded in one commit, which also claims the
   * promotions that may start in their place (one commit per cycle instead of two).
   */
  #recordOutcomes(outcomes: Outcome[]): undefined[] {
    const { store, metrics } = this.#o;
    if (this.#closed) return outcomes.map(() => undefined); // the store is (being) closed
    const now = this.#o.nowMs();
    const ending = new Set(outcomes.map((o) => o.row.id));
    const free = this.#free(ending);
    const next = store.transaction(() => {
      for (const o of outcomes) {
        if (o.kind === 'succeeded') store.succeed(o.row.id, o.result, now);
        if (o.kind === 'failed') store.fail(o.row.id, o.error, now);
      }
      return this.#closing || free <= 0 ? [] : store.claim(free, now);
    });
    for (const row of next) this.#run(row);
    for (const o of outcomes) {
      if (o.kind === 'aborted') continue;
      metrics.promotions.inc({ result: o.kind === 'failed' && o.blocked ? 'blocked' : o.kind });
      metrics.duration.observe(o.seconds);
      if (o.kind === 'succeeded') metrics.bytesPushed.inc({}, o.result.bytesPushed);
      if (o.kind === 'succeeded') this.#o.onSucceeded?.(o.row.id, o.result);
    }
    return outcomes.map(() => undefined);
  }

  #isIdle(): boolean {
    return (
      this.#running.size === 0 &&
      this.#claimed.length === 0 &&
      (this.#closed || this.#o.store.counts().queued === 0)
    );
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
