// The state store's tables. The partial unique indexes ARE the coalescing invariants: at most one
// queued and one running promotion per model, enforced by SQLite even if the code had a bug.
// Times: *_at are wall-clock milliseconds; event_us orders alias moves (µs, MLflow's clock for
// webhooks, kiln's for reconciles).
export const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  decision TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at);
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  last_event_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS promotions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE UNIQUE INDEX IF NOT EXISTS one_queued_per_model ON promotions (name) WHERE status = 'queued';
CREATE UNIQUE INDEX IF NOT EXISTS one_running_per_model ON promotions (name) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS promotions_by_name ON promotions (name, id);
CREATE INDEX IF NOT EXISTS promotions_by_status ON promotions (status, id);
`;
