// kiln serve's durable canary analyses, in the same SQLite file as the promotion queue but in their
// own tables (analysis_runs, analysis_decisions) and on their own connection, so the webhook path's
// statements are untouched. A run's state and the decision that produced it commit together: after
// kill -9 the loop resumes from the last recorded state, and re-applying that state's traffic
// percent is idempotent, so every step is taken exactly once.
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { AnalysisState, Decision } from '../analysis/index.ts';
import { immediate } from './sqlite-tx.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS analysis_runs (
  id INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  model TEXT,
  version TEXT,
  image TEXT NOT NULL,
  promotion_id INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'promoted', 'aborted', 'superseded', 'failed')),
  state TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER,
  error TEXT
);
-- One live analysis per InferenceService: a new version supersedes the old one in the same commit.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_analysis ON analysis_runs (namespace, name) WHERE status IN ('running', 'paused');
CREATE TABLE IF NOT EXISTS analysis_decisions (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES analysis_runs (id),
  at TEXT NOT NULL,
  step INTEGER NOT NULL,
  percent INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  action TEXT NOT NULL,
  reason TEXT NOT NULL,
  checks TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_run ON analysis_decisions (run_id);
`;

export interface AnalysisRun {
  id: number;
  namespace: string;
  name: string;
  model: string | undefined;
  version: string | undefined;
  image: string;
  promotionId: number | undefined;
  status: 'running' | 'paused' | 'promoted' | 'aborted' | 'superseded' | 'failed';
  state: AnalysisState;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | undefined;
  error: string | undefined;
}

type Row = Record<string, string | number | null>;

export class AnalysisStore {
  readonly #db: DatabaseSync;

  constructor(path: string, opts: { readOnly?: boolean } = {}) {
    this.#db = new DatabaseSync(path, { readOnly: opts.readOnly ?? false });
    this.#db.exec('PRAGMA busy_timeout = 5000');
    if (!opts.readOnly) this.#db.exec(SCHEMA);
  }

  /** True when the tables exist (a state file written before analyses existed has none). */
  get hasTables(): boolean {
    return this.#db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'analysis_runs'").get() !== undefined;
  }

  #tx<T>(fn: () => T): T {
    return immediate(this.#db, fn);
  }

  #run(sql: string, ...p: SQLInputValue[]) {
    return this.#db.prepare(sql).run(...p);
  }

  /** Start an analysis; a live one on the same InferenceService is superseded in the same commit. */
  start(s: AnalysisState, promotionId: number | undefined, nowMs: number): number {
    return this.#tx(() => {
      this.#run(
        "UPDATE analysis_runs SET status = 'superseded', finished_at = ?, updated_at = ? WHERE namespace = ? AND name = ? AND status IN ('running', 'paused')",
        nowMs,
        nowMs,
        s.namespace,
        s.name,
      );
      const r = this.#run(
        `INSERT INTO analysis_runs (namespace, name, model, version, image, promotion_id, status, state, started_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)`,
        s.namespace,
        s.name,
        s.model ?? null,
        s.version ?? null,
        s.image,
        promotionId ?? null,
        JSON.stringify(s),
        nowMs,
        nowMs,
      );
      return Number(r.lastInsertRowid);
    });
  }

  /** The new state and the decision that led to it, in one commit. */
  record(id: number, s: AnalysisState, d: Decision | undefined, nowMs: number): void {
    const status = s.phase === 'agreement' || s.phase === 'progressing' ? 'running' : s.phase;
    this.#tx(() => {
      this.#run(
        `UPDATE analysis_runs SET state = ?, status = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status IN ('running', 'paused')`,
        JSON.stringify(s),
        status,
        nowMs,
        status === 'promoted' || status === 'aborted' ? nowMs : null,
        id,
      );
      if (d) {
        this.#run(
          'INSERT INTO analysis_decisions (run_id, at, step, percent, verdict, action, reason, checks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          id,
          d.at,
          d.step,
          d.percent,
          d.verdict,
          d.action,
          d.reason,
          JSON.stringify(d.checks),
        );
      }
    });
  }

  end(id: number, status: 'superseded' | 'failed', error: string | undefined, nowMs: number): void {
    this.#run(
      "UPDATE analysis_runs SET status = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ? AND status IN ('running', 'paused')",
      status,
      error ?? null,
      nowMs,
      nowMs,
      id,
    );
  }

  live(): AnalysisRun[] {
    return this.#runs("SELECT * FROM analysis_runs WHERE status IN ('running', 'paused') ORDER BY id");
  }

  get(id: number): AnalysisRun | undefined {
    return this.#runs('SELECT * FROM analysis_runs WHERE id = ?', id)[0];
  }

  /** A model's analyses, newest first. */
  forModel(model: string, limit = 50): AnalysisRun[] {
    return this.#runs('SELECT * FROM analysis_runs WHERE model = ? ORDER BY id DESC LIMIT ?', model, limit);
  }

  decisions(runId: number): Decision[] {
    const rows = this.#db
      .prepare('SELECT * FROM analysis_decisions WHERE run_id = ? ORDER BY id')
      .all(runId) as Row[];
    return rows.map((r) => ({
      at: String(r['at']),
      step: Number(r['step']),
      percent: Number(r['percent']),
      verdict: r['verdict'] as Decision['verdict'],
      action: r['action'] as Decision['action'],
      nextPercent: undefined,
      reason: String(r['reason']),
      checks: JSON.parse(String(r['checks'])),
    }));
  }

  /** Everything a dashboard shows: live analyses and the latest finished ones, each with its decisions. */
  snapshot(limit = 20): { live: unknown[]; recent: unknown[] } {
    const withDecisions = (r: AnalysisRun) => ({ ...r, decisions: this.decisions(r.id) });
    return {
      live: this.live().map(withDecisions),
      recent: this.#runs(
        "SELECT * FROM analysis_runs WHERE status NOT IN ('running', 'paused') ORDER BY id DESC LIMIT ?",
        limit,
      ).map(withDecisions),
    };
  }

  /** The newest analysis of `model` whose image is pinned at `digest` (the dashboard's canary). */
  latestFor(model: string, digest: string): (AnalysisRun & { decisions: Decision[] }) | undefined {
    const run = this.#runs(
      'SELECT * FROM analysis_runs WHERE model = ? ORDER BY id DESC LIMIT 20',
      model,
    ).find((r) => r.image.endsWith(`@${digest}`));
    return run ? { ...run, decisions: this.decisions(run.id) } : undefined;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #runs(sql: string, ...p: SQLInputValue[]): AnalysisRun[] {
    return (this.#db.prepare(sql).all(...p) as Row[]).map((r) => ({
      id: Number(r['id']),
      namespace: String(r['namespace']),
      name: String(r['name']),
      model: r['model'] === null ? undefined : String(r['model']),
      version: r['version'] === null ? undefined : String(r['version']),
      image: String(r['image']),
      promotionId: r['promotion_id'] === null ? undefined : Number(r['promotion_id']),
      status: r['status'] as AnalysisRun['status'],
      state: JSON.parse(String(r['state'])) as AnalysisState,
      startedAt: Number(r['started_at']),
      updatedAt: Number(r['updated_at']),
      finishedAt: r['finished_at'] === null ? undefined : Number(r['finished_at']),
      error: r['error'] === null ? undefined : String(r['error']),
    }));
  }
}
