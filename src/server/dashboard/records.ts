// The dashboard's own rows in kiln serve's SQLite file: per-stage times and sizes, each
// promotion's log and error (with its hint), and the actions people took (who, when, result).
// A second connection to the same WAL database: the queue's statements stay untouched, and no
// transaction here spans an await, so the two connections never wait on each other for long.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { PromoteStage, StageEnd } from '../../pipeline/promote-types.ts';
import { statement } from '../sqlite-tx.ts';
import { fromRow, type PromotionRow, type Row } from '../state-types.ts';

// Additive, like state-schema.ts: CREATE ... IF NOT EXISTS at every open.
export const DASHBOARD_SCHEMA = `
CREATE TABLE IF NOT EXISTS promotion_stages (
  promotion_id INTEGER NOT NULL, attempt INTEGER NOT NULL, stage TEXT NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER, bytes INTEGER, detail TEXT, skipped TEXT, error TEXT,
  PRIMARY KEY (promotion_id, attempt, stage)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS promotion_logs (
  promotion_id INTEGER NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
  at INTEGER NOT NULL, level TEXT NOT NULL, msg TEXT NOT NULL, fields TEXT,
  PRIMARY KEY (promotion_id, attempt, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS promotion_errors (
  promotion_id INTEGER NOT NULL, attempt INTEGER NOT NULL, code TEXT, message TEXT NOT NULL, hint TEXT,
  PRIMARY KEY (promotion_id, attempt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, model TEXT NOT NULL,
  version TEXT, digest TEXT, target TEXT, reason TEXT, result TEXT NOT NULL, error TEXT, promotion_id INTEGER
);
CREATE INDEX IF NOT EXISTS actions_by_model ON actions (model, id);
`;

/** Log lines kept per attempt: a runaway loop must not fill the disk. */
export const MAX_LOG_LINES = 500;

export interface StageRecord extends StageEnd {
  stage: PromoteStage;
  attempt: number;
  startedAt: number;
  finishedAt: number | undefined;
}

export interface LogRecord {
  attempt: number;
  at: number;
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

export interface ErrorRecord {
  attempt: number;
  code: string | undefined;
  message: string;
  hint: string | undefined;
}

export type ActionKind = 'promote' | 'abort' | 'rollback' | 'retry';

export interface ActionRecord {
  id: number;
  at: number;
  who: string;
  action: ActionKind;
  model: string;
  version: string | undefined;
  digest: string | undefined;
  target: string | undefined;
  reason: string | undefined;
  result: 'done' | 'failed';
  error: string | undefined;
  promotionId: number | undefined;
}

const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

export class DashboardRecords {
  readonly #db: DatabaseSync;
  readonly #seq = new Map<string, number>();
  /** Prepared once: a promotion runs several of these (running(), stages, logs), and preparing costs more than running. */

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA busy_timeout = 5000');
    this.#db.exec(DASHBOARD_SCHEMA);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #prepare(sql: string): StatementSync {
    return statement(this.#db, sql);
  }

  #run(sql: string, ...p: SQLInputValue[]) {
    return this.#prepare(sql).run(...p);
  }

  #rows(sql: string, ...p: SQLInputValue[]): Row[] {
    return this.#prepare(sql).all(...p) as Row[];
  }

  // --- promotions (read-only views of the queue's table) ---

  promotion(id: number): PromotionRow | undefined {
    const r = this.#prepare('SELECT * FROM promotions WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  history(name: string, limit = 200): PromotionRow[] {
    return this.#rows('SELECT * FROM promotions WHERE name = ? ORDER BY id DESC LIMIT ?', name, limit).map(
      fromRow,
    );
  }

  /** The newest promotion of every model, and what is queued or running (one scan: small table). */
  latestByModel(): Map<string, { last: PromotionRow; queued?: string; running?: string }> {
    const out = new Map<string, { last: PromotionRow; queued?: string; running?: string }>();
    for (const r of this.#rows(
      'SELECT * FROM promotions WHERE id IN (SELECT max(id) FROM promotions GROUP BY name)',
    )) {
      const row = fromRow(r);
      out.set(row.name, { last: row });
    }
    for (const r of this.#rows(
      "SELECT name, version, status FROM promotions WHERE status IN ('queued', 'running')",
    )) {
      const e = out.get(String(r['name']));
      if (e) e[r['status'] === 'queued' ? 'queued' : 'running'] = String(r['version']);
    }
    return out;
  }

  /** The promotion of `name` marked running now (at most one: the queue's unique index). */
  running(name: string): { id: number; attempts: number } | undefined {
    // Runs once per promotion. INDEXED BY pins the partial index (as state.ts does): the plan can
    // never become a scan of the whole history.
    return this.#prepare(
      "SELECT id, attempts FROM promotions INDEXED BY one_running_per_model WHERE name = ? AND status = 'running'",
    ).get(name) as { id: number; attempts: number } | undefined;
  }

  // --- stages, logs, errors ---

  stageStart(id: number, attempt: number, stage: PromoteStage, at: number): void {
    this.#run(
      `INSERT INTO promotion_stages (promotion_id, attempt, stage, started_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET started_at = excluded.started_at, finished_at = NULL, error = NULL`,
      id,
      attempt,
      stage,
      at,
    );
  }

  stageEnd(id: number, attempt: number, stage: PromoteStage, at: number, end: StageEnd): void {
    this.#run(
      'UPDATE promotion_stages SET finished_at = ?, bytes = ?, detail = ?, skipped = ?, error = ? WHERE promotion_id = ? AND attempt = ? AND stage = ?',
      at,
      end.bytes ?? null,
      end.detail ?? null,
      end.skipped ?? null,
      end.error ?? null,
      id,
      attempt,
      stage,
    );
  }

  stages(id: number): StageRecord[] {
    return this.#rows(
      'SELECT * FROM promotion_stages WHERE promotion_id = ? ORDER BY attempt, started_at',
      id,
    ).map((r) => ({
      stage: r['stage'] as PromoteStage,
      attempt: Number(r['attempt']),
      startedAt: Number(r['started_at']),
      finishedAt: num(r['finished_at']),
      bytes: num(r['bytes']),
      detail: str(r['detail']),
      skipped: str(r['skipped']),
      error: str(r['error']),
    }));
  }

  log(
    id: number,
    attempt: number,
    level: string,
    msg: string,
    fields: Record<string, unknown> | undefined,
  ): void {
    const key = `${id}/${attempt}`;
    const seq = (this.#seq.get(key) ?? this.#lastSeq(id, attempt)) + 1;
    this.#seq.set(key, seq);
    if (seq > MAX_LOG_LINES) return;
    this.#run(
      'INSERT OR REPLACE INTO promotion_logs (promotion_id, attempt, seq, at, level, msg, fields) VALUES (?, ?, ?, ?, ?, ?, ?)',
      id,
      attempt,
      seq,
      Date.now(),
      level,
      msg,
      fields && Object.keys(fields).length > 0 ? JSON.stringify(fields) : null,
    );
  }

  #lastSeq(id: number, attempt: number): number {
    const r = this.#prepare(
      'SELECT max(seq) AS n FROM promotion_logs WHERE promotion_id = ? AND attempt = ?',
    ).get(id, attempt) as { n: number | null };
    return r.n ?? 0;
  }

  logs(id: number): LogRecord[] {
    return this.#rows('SELECT * FROM promotion_logs WHERE promotion_id = ? ORDER BY attempt, seq', id).map(
      (r) => ({
        attempt: Number(r['attempt']),
        at: Number(r['at']),
        level: String(r['level']),
        msg: String(r['msg']),
        fields: r['fields'] ? (JSON.parse(String(r['fields'])) as Record<string, unknown>) : undefined,
      }),
    );
  }

  error(
    id: number,
    attempt: number,
    e: { code?: string | undefined; message: string; hint?: string | undefined },
  ): void {
    this.#run(
      'INSERT OR REPLACE INTO promotion_errors (promotion_id, attempt, code, message, hint) VALUES (?, ?, ?, ?, ?)',
      id,
      attempt,
      e.code ?? null,
      e.message,
      e.hint ?? null,
    );
  }

  errors(id: number): ErrorRecord[] {
    return this.#rows('SELECT * FROM promotion_errors WHERE promotion_id = ? ORDER BY attempt', id).map(
      (r) => ({
        attempt: Number(r['attempt']),
        code: str(r['code']),
        message: String(r['message']),
        hint: str(r['hint']),
      }),
    );
  }

  // --- actions ---

  recordAction(a: Omit<ActionRecord, 'id'>): number {
    const r = this.#run(
      'INSERT INTO actions (at, who, action, model, version, digest, target, reason, result, error, promotion_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      a.at,
      a.who,
      a.action,
      a.model,
      a.version ?? null,
      a.digest ?? null,
      a.target ?? null,
      a.reason ?? null,
      a.result,
      a.error ?? null,
      a.promotionId ?? null,
    );
    return Number(r.lastInsertRowid);
  }

  actions(model: string, limit = 200): ActionRecord[] {
    return this.#rows('SELECT * FROM actions WHERE model = ? ORDER BY id DESC LIMIT ?', model, limit).map(
      (r) => ({
        id: Number(r['id']),
        at: Number(r['at']),
        who: String(r['who']),
        action: r['action'] as ActionKind,
        model: String(r['model']),
        version: str(r['version']),
        digest: str(r['digest']),
        target: str(r['target']),
        reason: str(r['reason']),
        result: r['result'] as 'done' | 'failed',
        error: str(r['error']),
        promotionId: num(r['promotion_id']),
      }),
    );
  }
}
