// sqlite-tx.ts's immediate() on a real SQLite file: commit, rollback, nesting, and the error a
// caller sees when SQLite has already rolled the transaction back itself.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { immediate } from '../../src/server/sqlite-tx.ts';
import { tempDir } from '../rig/proc.ts';

describe('immediate()', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let db: DatabaseSync;
  before(async () => {
    dir = await tempDir('sqlite-tx');
    db = new DatabaseSync(join(dir.path, 'x.db'));
    db.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE t (v INTEGER);
      CREATE TABLE guarded (v INTEGER);
      CREATE TRIGGER no_negative BEFORE INSERT ON guarded WHEN new.v < 0
        BEGIN SELECT RAISE(ROLLBACK, 'negative value'); END;`);
  });
  after(async () => {
    db.close();
    await dir.remove();
  });
  const count = (table: string) =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  test('commits all of it, or none of it when fn throws (and the next one works)', () => {
    assert.equal(
      immediate(db, () => {
        db.exec('INSERT INTO t VALUES (1)');
        return 'done';
      }),
      'done',
    );
    assert.throws(
      () =>
        immediate(db, () => {
          db.exec('INSERT INTO t VALUES (2)');
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(db.isTransaction, false);
    immediate(db, () => db.exec('INSERT INTO t VALUES (3)'));
    assert.deepEqual(
      db
        .prepare('SELECT v FROM t ORDER BY v')
        .all()
        .map((r) => r['v']),
      [1, 3],
    );
  });

  test('inside an enclosing transaction, fn is part of it', () => {
    const before = count('t');
    assert.throws(() =>
      immediate(db, () => {
        immediate(db, () => db.exec('INSERT INTO t VALUES (10)'));
        throw new Error('outer fails');
      }),
    );
    assert.equal(count('t'), before);
  });

  test('when SQLite already rolled back (RAISE(ROLLBACK)), the caller gets that error, not "no transaction"', () => {
    assert.throws(
      () =>
        immediate(db, () => {
          db.exec('INSERT INTO guarded VALUES (1)');
          db.exec('INSERT INTO guarded VALUES (-1)');
        }),
      /negative value/,
    );
    assert.equal(db.isTransaction, false);
    assert.equal(count('guarded'), 0);
    immediate(db, () => db.exec('INSERT INTO guarded VALUES (2)'));
    assert.equal(count('guarded'), 1);
  });
});
