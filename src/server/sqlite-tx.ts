import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** Statements by connection and SQL text: preparing (like exec) parses the SQL at every call. */
const prepared = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/** `sql` prepared once per connection (kiln serve's stores run the same few statements per delivery). */
export function statement(db: DatabaseSync, sql: string): StatementSync {
  let bySql = prepared.get(db);
  if (!bySql) {
    bySql = new Map();
    prepared.set(db, bySql);
  }
  let st = bySql.get(sql);
  if (!st) {
    st = db.prepare(sql);
    bySql.set(sql, st);
  }
  return st;
}

/**
 * Run `fn` in one BEGIN IMMEDIATE transaction (the write lock taken up front, so two writers
 * queue on busy_timeout instead of failing at COMMIT): all of it commits or none of it does.
 * Inside an enclosing transaction, `fn` is simply part of it.
 */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  statement(db, 'BEGIN IMMEDIATE').run();
  try {
    const out = fn();
    statement(db, 'COMMIT').run();
    return out;
  } catch (e) {
    // A failed COMMIT may already have ended the transaction (SQLite rolls back on some errors).
    if (db.isTransaction) statement(db, 'ROLLBACK').run();
    throw e;
  }
}
