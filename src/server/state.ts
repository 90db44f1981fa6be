// kiln serve's durable state in one SQLite file (Node's built-in node:sqlite, no dependency):
// deliveries seen (dedupe), the promotion queue and the promotion history are the same table, so a
// state change is one row update and "queued -> running -> succeeded" can never be half-recorded.
// WAL + synchronous=NORMAL: every commit is in the WAL before the call returns, so kill -9 loses
// nothing (only an OS crash can lose the last commits; the reconciler re-derives those anyway).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { describeCause, KilnError } from '../errors.ts';
import { SCHEMA } from './state-schema.ts';
import {
  fromRow,
  type ModelState,
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

export class StateStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  /** Prepared once: the webhook path runs a handful of statements per delivery. */
  readonly #stmts = new Map<string, StatementSync>();

  constructor(path: string, readOnly = false) {
    this.path = path;
    try {
      this.#db = new DatabaseSync(path, { readOnly });
      this.#db.exec('PRAGMA busy_timeout = 5000');
      if (!readOnly) this.#db.exec(SCHEMA);
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
  static open(stateDir: string): StateStore {
    mkdirSync(stateDir, { recursive: true });
    return new StateStore(join(stateDir, STATE_FILE));
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /** BEGIN IMMEDIATE: the whole decision (dedupe + coalesce + enqueue) commits or none of it does. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Record a delivery id; false when it was seen before (MLflow retries with the same id). */
  recordDelivery(id: string, receivedAtMs: number, name: string, version: string): boolean {
    const r = this.#run(
      'INSERT OR IGNORE INTO deliveries (id, received_at, name, version) VALUES (?, ?, ?, ?)',
      id,
      receivedAtMs,
      name,
      version,
    );
    return r.changes === 1;
  }

  setDeliveryDecision(id: string, decision: string): void {
    this.#run('UPDATE deliveries SET decision = ? WHERE id = ?', decision, id);
  }

  /** Ids older than this can go: a replay of them is refused as stale before dedupe is asked. */
  pruneDeliveries(beforeMs: number): number {
    return Number(this.#run('DELETE FROM deliveries WHERE received_at < ?', beforeMs).changes);
  }

  modelState(name: string): ModelState {
    const ev = this.#prepare('SELECT last_event_us FROM models WHERE name = ?').get(name) as
      | { last_event_us: number }
      | undefined;
    const one = (sql: string) => {
      const row = this.#prepare(sql).get(name) as Row | undefined;
      return row ? fromRow(row) : undefined;
    };
    return {
      lastEventAtUs: ev?.last_event_us,
      queued: one("SELECT * FROM promotions WHERE name = ? AND status = 'queued'"),
      running: one("SELECT * FROM promotions WHERE name = ? AND status = 'running'"),
      deployed: one(
        "SELECT * FROM promotions WHERE name = ? AND status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
      ),
    };
  }

  setLastEventAt(name: string, eventAtUs: number): void {
    this.#run(
      'INSERT INTO models (name, last_event_us) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET last_event_us = max(last_event_us, excluded.last_event_us)',
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
  }): PromotionRow {
    const r = this.#run(
      "INSERT INTO promotions (name, version, status, source, delivery_id, event_us, queued_at) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
      p.name,
      p.version,
      p.source,
      p.deliveryId ?? null,
      p.eventAtUs,
      p.nowMs,
    );
    return this.get(Number(r.lastInsertRowid)) as PromotionRow;
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

  /** The oldest queued promotion of a model with nothing running (per-model serialization), now running. */
  claimNext(nowMs: number): PromotionRow | undefined {
    return this.transaction(() => {
      const row = this.#prepare(
        `SELECT id FROM promotions p WHERE status = 'queued' AND NOT EXISTS
             (SELECT 1 FROM promotions r WHERE r.name = p.name AND r.status = 'running')
           ORDER BY id LIMIT 1`,
      ).get() as { id: number } | undefined;
      if (!row) return undefined;
      this.#run(
        "UPDATE promotions SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
        nowMs,
        row.id,
      );
      return this.get(row.id);
    });
  }

  /** Promotions a previous process was running when it died: they are resumed, not lost. */
  interrupted(): PromotionRow[] {
    return this.#all("SELECT * FROM promotions WHERE status = 'running' ORDER BY id");
  }

  resume(id: number, nowMs: number): PromotionRow {
    this.#run('UPDATE promotions SET started_at = ?, attempts = attempts + 1 WHERE id = ?', nowMs, id);
    return this.get(id) as PromotionRow;
  }

  succeed(id: number, r: FinishedPromotion, nowMs: number): void {
    this.#run(
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
    const rows = this.#prepare(
      "SELECT status, count(*) AS n FROM promotions WHERE status IN ('queued', 'running') GROUP BY status",
    ).all() as Array<{ status: string; n: number }>;
    const n = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
    return { queued: n('queued'), running: n('running') };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #prepare(sql: string): StatementSync {
    let st = this.#stmts.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#stmts.set(sql, st);
    }
    return st;
  }

  #run(sql: string, ...params: SQLInputValue[]) {
    return this.#prepare(sql).run(...params);
  }

  #all(sql: string, ...params: SQLInputValue[]): PromotionRow[] {
    return (this.#prepare(sql).all(...params) as Row[]).map(fromRow);
  }
}
