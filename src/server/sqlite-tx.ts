import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** BEGIN/COMMIT/ROLLBACK prepared once per connection: exec parses them at every transaction. */
const prepared = new WeakMap<
  DatabaseSync,
  { begin: StatementSync; commit: StatementSync; rollback: StatementSync }
>();

/**
 * Run `fn` in one BEGIN IMMEDIATE transaction (the write lock taken up front, so two writers
 * queue on busy_timeout instead of failing at COMMIT): all of it commits or none of it does.
 * Inside an enclosing transaction, `fn` is simply part of it.
 */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  let tx = prepared.get(db);
  if (!tx) {
    tx = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
    prepared.set(db, tx);
  }
  tx.begin.run();
  try {
    const out = fn();
    tx.commit.run();
    return out;
  } catch (e) {
    // A failed COMMIT may already have ended the transaction (SQLite rolls back on some errors).
    if (db.isTransaction) tx.rollback.run();
    throw e;
  }
}
