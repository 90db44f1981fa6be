// The reconciler: MLflow drops a webhook after 3 failed retries (FIELD-NOTES "Webhooks"), so every
// interval kiln reads each watched alias itself and offers what it points at. The queue's rules
// make that idempotent: a settled alias is "already-deployed", a version that failed is retried.
// Offers are stamped with the time the read STARTED: any alias move after that instant has a
// later webhook timestamp, so a delayed webhook is never mistaken for older than this read.
import type { WatchedModel } from '../config/schema.ts';
import { describeCause, isKilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { getModelVersionByAlias, type MlflowClient } from '../mlflow/index.ts';
import type { PromotionQueue } from './queue.ts';

export interface ReconcilerOptions {
  models: readonly WatchedModel[];
  client: MlflowClient;
  queue: Pick<PromotionQueue, 'offer'>;
  intervalMs: number;
  log?: Logger;
  /** Runs after every pass (state upkeep such as pruning old delivery ids). */
  afterRun?: () => void;
  nowUs?: () => number;
}

export interface ModelReport {
  name: string;
  alias: string;
  version?: string;
  decision?: string;
  error?: string;
}

export interface ReconcileReport {
  finishedAt: number;
  /** MLflow answered every read (an unset alias is an answer; a refused connection or a 5xx is not). */
  reachable: boolean;
  models: ModelReport[];
}

/** Alias reads in flight at once: enough to cover dozens of models quickly, gentle on MLflow. */
const PARALLEL_READS = 4;

export const wallMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

export class Reconciler {
  last: ReconcileReport | undefined;
  readonly #o: ReconcilerOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Aborts in-flight reads on stop: a black-holed MLflow must not hold up shutdown. */
  readonly #abort = new AbortController();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#log = options.log ?? silentLogger;
  }

  /** Run now, then again `intervalMs` after each pass ends (passes never overlap). */
  start(): void {
    const loop = async () => {
      await this.runOnce();
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.intervalMs);
    };
    void loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort(new Error('kiln serve is stopping'));
  }

  async runOnce(): Promise<ReconcileReport> {
    const pending = [...this.#o.models];
    const reports: ModelReport[] = [];
    let reachable = true;
    const worker = async () => {
      for (let m = pending.shift(); m !== undefined && !this.#stopped; m = pending.shift()) {
        const r = await this.#reconcileOne(m);
        if (r.unreachable) reachable = false;
        reports.push(r.report);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_READS }, worker));
    this.last = { finishedAt: Date.now(), reachable, models: reports };
    this.#log.debug('reconciled', { reachable, models: reports.length });
    try {
      if (!this.#stopped) this.#o.afterRun?.();
    } catch (e) {
      this.#log.warn('state upkeep after a reconcile failed', { error: describeCause(e) });
    }
    return this.last;
  }

  async #reconcileOne(m: WatchedModel): Promise<{ report: ModelReport; unreachable: boolean }> {
    const base = { name: m.name, alias: m.alias };
    const startedUs = (this.#o.nowUs ?? wallMicros)();
    try {
      const mv = await getModelVersionByAlias(this.#o.client, m.name, m.alias, this.#abort.signal);
      if (this.#stopped) return { report: base, unreachable: false };
      const out = this.#o.queue.offer({
        name: m.name,
        version: mv.version,
        eventAtUs: startedUs,
        source: 'reconcile',
      });
      return { report: { ...base, version: mv.version, decision: out.word }, unreachable: false };
    } catch (e) {
      if (this.#stopped) return { report: base, unreachable: false };
      const status = isKilnError(e) ? (e.details['status'] as number | undefined) : undefined;
      // An HTTP answer below 500 means MLflow is up: the alias or model is simply not there (yet).
      const unreachable = status === undefined || status >= 500;
      const error = isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
      this.#log.warn(`cannot read ${m.name}@${m.alias} from MLflow`, {
        model: m.name,
        alias: m.alias,
        error,
      });
      return { report: { ...base, error }, unreachable };
    }
  }
}
