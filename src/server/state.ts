// kiln serve's durable state in one SQLite file (Node's built-in node:sqlite, no dependency):
// deliveries seen (dedupe), the promotion queue and the promotion history are the same table, so a
// state change is one row update and "queued -> running -> succeeded" can never be half-recorded.
// WAL + synchronous=NORMAL: every commit is in the WAL before the call returns, so kill -9 loses
// nothing (only an OS crash can lose the last commits; the reconciler re-derives those anyway).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { describeCause, KilnError } from '../errors.ts';
import { immediate, statement } from './sqlite-tx.ts';
import { SCHEMA } from './state-schema.ts';
import {
  fromRow,
  type ModelState,
  type PromotionRef,
  type PromotionRow,
  type PromotionSource,
  type Row,
} from './state-types.ts';

export type { ModelState, PromotionRow, PromotionSource, PromotionStatus } from './state-types.ts';

export const STATE_FILE = 'kiln-state.db';

export interface FinishedPromotion {
  digest: string;
  reference: string;
  signed: boolean;
  deployedTo: string | undefined;
  reused: boolean;
  bytesPushed: number;
}

export interface StoreOptions {
  readOnly?: boolean;
  /**
   * WAL pages before a commit checkpoints by itself (SQLite default 1000). kiln serve raises it
   * and checkpoints from a worker thread instead (checkpointer.ts); the limit stays as a backstop.
   */
  walAutocheckpoint?: number;
}

export class StateStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  /** Prepared once: the webhook path runs a handful of statements per delivery. */

  constructor(path: string, opts: StoreOptions = {}) {
    this.path = path;
    const readOnly = opts.readOnly ?? false;
    try {
      this.#db = new DatabaseSync(path, { readOnly });
      this.#db.exec('PRAGMA busy_timeout = 5000');
      if (!readOnly) this.#db.exec(SCHEMA);
      if (opts.walAutocheckpoint !== undefined) {
        this.#db.exec(`PRAGMA wal_autocheckpoint = ${Math.floor(opts.walAutocheckpoint)}`);
      }
    } catch (e) {
      throw new KilnError(
        'STATE_OPEN_FAILED',
        `cannot open kiln's state store ${path}: ${describeCause(e)}`,
        {
          hint: 'check server.stateDir is a writable directory on a local disk',
          cause: e,
        },
      );
    }
  }

  /** Open (creating) `<stateDir>/kiln-state.db`. */
  static open(stateDir: string, opts: StoreOptions = {}): StateStore {
    mkdirSync(stateDir, { recursive: true });
    return new StateStore(join(stateDir, STATE_FILE), opts);
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /** BEGIN IMMEDIATE: the whole decision (dedupe + coalesce + enqueue) commits or none of it does. */
  transaction<T>(fn: () => T): T {
    return immediate(this.#db, fn);
  }

  seenDelivery(id: string): boolean {
    return this.#prepare('SELECT 1 FROM deliveries WHERE id = ?').get(id) !== undefined;
  }

  /** Record a delivery id and what was decided for it; false when it was seen before. */
  recordDelivery(id: string, receivedAtMs: number, name: string, version: string, decision: string): boolean {
    const r = this.#run(
      'INSERT OR IGNORE INTO deliveries (id, received_at, name, version, decision) VALUES (?, ?, ?, ?, ?)',
      id,
      receivedAtMs,
      name,
      version,
      decision,
    );
    return r.changes === 1;
  }

  /** Ids older than this can go: a replay of them is refused as stale before dedupe is asked. */
  pruneDeliveries(beforeMs: number): number {
    return Number(this.#run('DELETE FROM deliveries WHERE received_at < ?', beforeMs).changes);
  }

  /** Three indexed lookups: the webhook path runs this once per delivery. */
  modelState(name: string): ModelState {
    const m = this.#prepare(
      'SELECT last_event_us, deployed_id, deployed_version FROM models WHERE name = ?',
    ).get(name) as
      | { last_event_us: number; deployed_id: number | null; deployed_version: string | null }
      | undefined;
    const ref = (sql: string) => this.#prepare(sql).get(name) as PromotionRef | undefined;
    return {
      lastEventAtUs: m?.last_event_us,
      queued: ref(
        "SELECT id, version FROM promotions INDEXED BY one_queued_per_model WHERE name = ? AND status = 'queued'",
      ),
      running: ref(
        "SELECT id, version FROM promotions INDEXED BY one_running_per_model WHERE name = ? AND status = 'running'",
      ),
      deployed:
        m?.deployed_id == null || m.deployed_version == null
          ? undefined
          : { id: m.deployed_id, version: m.deployed_version },
    };
  }

  setLastEventAt(name: string, eventAtUs: number): void {
    this.#run(
      `INSERT INTO models (name, last_event_us) VALUES (?, ?)
       ON CONFLICT(name) DO UPDATE SET last_event_us = max(last_event_us, excluded.last_event_us)`,
      name,
      eventAtUs,
    );
  }

  insertQueued(p: {
    name: string;
    version: string;
    source: PromotionSource;
    deliveryId: string | undefined;
    eventAtUs: number;
    nowMs: number;
  }): number {
    const r = this.#run(
      "INSERT INTO promotions (name, version, status, source, delivery_id, event_us, queued_at) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
      p.name,
      p.version,
      p.source,
      p.deliveryId ?? null,
      p.eventAtUs,
      p.nowMs,
    );
    return Number(r.lastInsertRowid);
  }

  /** A queued promotion replaced by a newer version before it started (frees the queued slot first). */
  supersede(id: number, nowMs: number): void {
    this.#run(
      "UPDATE promotions SET status = 'superseded', finished_at = ? WHERE id = ? AND status = 'queued'",
      nowMs,
      id,
    );
  }

  linkSuperseded(id: number, byId: number): void {
    this.#run('UPDATE promotions SET superseded_by = ? WHERE id = ?', byId, id);
  }

  /**
   * Up to `limit` queued promotions of models with nothing running (per-model serialization),
   * oldest first, marked running in one transaction.
   */
  claim(limit: number, nowMs: number): PromotionRow[] {
    // Outside a transaction, look first: often nothing can start (the model is busy, or the
    // slots are), and a read costs a few µs where BEGIN IMMEDIATE + COMMIT take the write lock.
    // What is claimed is still decided inside the transaction below.
    if (!this.#db.isTransaction && this.#claimable(1).length === 0) return [];
    return this.transaction(() =>
      this.#claimable(limit).map(({ id }) => {
        // RETURNING: the row as updated, without a second statement
        const row = this.#prepare(
          "UPDATE promotions SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ? RETURNING *",
        ).get(nowMs, id) as Row;
        return fromRow(row);
      }),
    );
  }

  #claimable(limit: number): Array<{ id: number }> {
    const rows = this.#prepare(
      // INDEXED BY: the partial indexes hold only the queued / running rows; the plan must never
      // become a walk of the whole history.
      `SELECT id FROM promotions p INDEXED BY one_queued_per_model WHERE status = 'queued' AND NOT EXISTS
         (SELECT 1 FROM promotions r INDEXED BY one_running_per_model WHERE r.name = p.name AND r.status = 'running')`,
    ).all() as Array<{ id: number }>;
    // Oldest first, sorted here: at most one row per model, and SQLite's ORDER BY ... LIMIT
    // opened a temporary b-tree for it (~8 µs of a ~10 µs query, run once or twice a delivery).
    return rows.sort((a, b) => a.id - b.id).slice(0, limit);
  }

  /** Promotions a previous process was running when it died: they are resumed, not lost. */
  interrupted(): PromotionRow[] {
    return this.#all(
      "SELECT * FROM promotions INDEXED BY one_running_per_model WHERE status = 'running' ORDER BY id",
    );
  }

  resume(id: number, nowMs: number): PromotionRow {
    this.#run('UPDATE promotions SET started_at = ?, attempts = attempts + 1 WHERE id = ?', nowMs, id);
    return this.get(id) as PromotionRow;
  }

  succeed(id: number, r: FinishedPromotion, nowMs: number): void {
    this.transaction(() => {
      const done = this.#run(
        `UPDATE promotions SET status = 'succeeded', finished_at = ?, digest = ?, reference = ?, signed = ?,
           deployed_to = ?, reused = ?, bytes_pushed = ?, error = NULL WHERE id = ? AND status = 'running'`,
        nowMs,
        r.digest,
        r.reference,
        r.signed ? 1 : 0,
        r.deployedTo ?? null,
        r.reused ? 1 : 0,
        r.bytesPushed,
        id,
      );
      if (done.changes !== 1) return;
      this.#run(
        `INSERT INTO models (name, deployed_id, deployed_version) SELECT name, id, version FROM promotions WHERE id = ?
         ON CONFLICT(name) DO UPDATE SET deployed_id = excluded.deployed_id, deployed_version = excluded.deployed_version`,
        id,
      );
    });
  }

  fail(id: number, error: string, nowMs: number): void {
    this.#run(
      "UPDATE promotions SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'",
      nowMs,
      error,
      id,
    );
  }

  get(id: number): PromotionRow | undefined {
    const row = this.#prepare('SELECT * FROM promotions WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Every promotion of a model, newest first. */
  history(name: string, limit = 1000): PromotionRow[] {
    return this.#all('SELECT * FROM promotions WHERE name = ? ORDER BY id DESC LIMIT ?', name, limit);
  }

  counts(): { queued: number; running: number } {
    const n = (sql: string) => (this.#prepare(sql).get() as { n: number }).n;
    return {
      queued: n(
        "SELECT count(*) AS n FROM promotions INDEXED BY one_queued_per_model WHERE status = 'queued'",
      ),
      running: n(
        "SELECT count(*) AS n FROM promotions INDEXED BY one_running_per_model WHERE status = 'running'",
      ),
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #prepare(sql: string): StatementSync {
    return statement(this.#db, sql);
  }

  #run(sql: string, ...params: SQLInputValue[]) {
    return this.#prepare(sql).run(...params);
  }

  #all(sql: string, ...params: SQLInputValue[]): PromotionRow[] {
    return (this.#prepare(sql).all(...params) as Row[]).map(fromRow);
  }
}
