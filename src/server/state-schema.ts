// The state store's tables. The partial unique indexes ARE the coalescing invariants: at most one
// queued and one running promotion per model, enforced by SQLite even if the code had a bug.
// Times: *_at are wall-clock milliseconds; event_us orders alias moves (µs, MLflow's clock for
// webhooks, kiln's for reconciles).
export const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
-- WITHOUT ROWID: one b-tree keyed by the delivery id, so recording a delivery writes fewer pages
-- (every webhook commits here before it is answered). Pruning scans it once per reconcile.
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  decision TEXT
) WITHOUT ROWID;
-- Per model: the newest alias event seen, and the promotion that succeeded last (what it serves).
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  last_event_us INTEGER NOT NULL DEFAULT 0,
  deployed_id INTEGER,
  deployed_version TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS promotions (
  id INTEGER PRIMARY KEY, -- no AUTOINCREMENT: rows are never deleted, and it costs a page per insert
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'superseded')),
  source TEXT NOT NULL CHECK (source IN ('webhook', 'reconcile')),
  delivery_id TEXT,
  event_us INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  digest TEXT,
  reference TEXT,
  signed INTEGER,
  deployed_to TEXT,
  reused INTEGER,
  bytes_pushed INTEGER,
  error TEXT,
  superseded_by INTEGER
);
-- Few indexes, and on status only these partial ones (a handful of rows each): a state change
-- then rewrites few pages, and a commit's cost is its pages (measured: bench/webhook).
CREATE UNIQUE INDEX IF NOT EXISTS one_queued_per_model ON promotions (name) WHERE status = 'queued';
CREATE UNIQUE INDEX IF NOT EXISTS one_running_per_model ON promotions (name) WHERE status = 'running';
-- No index by name: \`kiln history\` scans the table (one row per alias move: small), and each
-- webhook commit saves a page.
`;
