import type { DatabaseSync } from 'node:sqlite';

/**
 * Run `fn` in one BEGIN IMMEDIATE transaction (the write lock taken up front, so two writers
 * queue on busy_timeout instead of failing at COMMIT): all of it commits or none of it does.
 * Inside an enclosing transaction, `fn` is simply part of it.
 */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}
