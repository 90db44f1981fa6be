import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { startCheckpointer } from '../../src/server/checkpointer.ts';
import { StateStore } from '../../src/server/state.ts';
import { sleep, tempDir } from '../rig/proc.ts';

// The state store on a real SQLite file: the invariants the schema itself enforces, and WAL
// checkpoints from the worker thread keeping the log bounded.

const dirs: Array<{ remove: () => Promise<void> }> = [];
after(async () => {
  for (const d of dirs) await d.remove();
});
async function store(opts = {}) {
  const d = await tempDir('state');
  dirs.push(d);
  return StateStore.open(d.path, opts);
}
const queued = (s: StateStore, name: string, version: string) =>
  s.insertQueued({ name, version, source: 'webhook', deliveryId: undefined, eventAtUs: 1, nowMs: 1 });

describe('state store', () => {
  test('SQLite itself refuses a second queued promotion for one model', async () => {
    const s = await store();
    queued(s, 'm', '1');
    assert.throws(() => queued(s, 'm', '2'), /UNIQUE constraint failed/);
    queued(s, 'other', '1'); // other models are independent
    s.claim(10, 2); // m/1 runs: the queued slot is free again
    queued(s, 'm', '2');
    assert.deepEqual(
      s.claim(10, 3).map((r) => r.name),
      [], // one running per model: m/2 waits for m/1 (and "other" is running)
    );
    s.close();
  });

  test('claim starts the oldest queued first, whatever the model names', async () => {
    const s = await store();
    // the queued index is ordered by name: z/1 is oldest but last there
    for (const name of ['z', 'b', 'a', 'c']) queued(s, name, '1');
    assert.deepEqual(
      s.claim(1, 2).map((r) => r.name),
      ['z'],
    );
    assert.deepEqual(
      s.claim(2, 3).map((r) => r.name),
      ['b', 'a'],
    );
    s.close();
  });

  test('claim with nothing to start takes no write lock (it runs after every promotion)', async () => {
    const s = await store();
    queued(s, 'm', '1');
    s.claim(1, 2); // m/1 running: nothing else can start
    queued(s, 'm', '2');
    // another connection holds the write lock: a claim that took it would wait busy_timeout (5 s)
    const other = new DatabaseSync(s.path);
    other.exec('BEGIN IMMEDIATE');
    const t0 = performance.now();
    assert.deepEqual(s.claim(2, 3), []);
    assert.ok(performance.now() - t0 < 1000, 'claim waited for the write lock');
    other.exec('ROLLBACK');
    other.close();
    s.close();
  });

  test('a succeeded promotion becomes the model state "deployed"; a failed one does not', async () => {
    const s = await store();
    const ok = queued(s, 'm', '1');
    s.claim(1, 2);
    s.succeed(
      ok,
      { digest: 'sha256:x', reference: 'r', signed: true, deployedTo: 'a/b', reused: false, bytesPushed: 1 },
      3,
    );
    queued(s, 'm', '2');
    s.claim(1, 4);
    s.fail(ok + 1, 'boom', 5);
    assert.deepEqual(s.modelState('m').deployed, { id: ok, version: '1' });
    assert.deepEqual(
      s.history('m').map((r) => [r.version, r.status, r.error]),
      [
        ['2', 'failed', 'boom'],
        ['1', 'succeeded', undefined],
      ],
    );
    s.close();
  });

  test('the checkpoint worker keeps the WAL small while commits never checkpoint themselves', async () => {
    const s = await store({ walAutocheckpoint: 1_000_000 });
    const cp = startCheckpointer(s.path, 20);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200; i++)
        s.recordDelivery(`${round}-${i}-${'x'.repeat(200)}`, 1, 'm', '1', 'queued');
      await sleep(40);
    }
    const wal = statSync(`${s.path}-wal`).size;
    await cp.stop();
    s.close();
    // without the worker the same commits leave a WAL of ~36 MB (measured)
    assert.ok(wal < 12 * 1024 * 1024, `WAL is ${wal} bytes`);
  });

  test('a read-only store (kiln history) reads while a writer has it open', async () => {
    const s = await store();
    queued(s, 'm', '1');
    const r = new StateStore(s.path, { readOnly: true });
    assert.equal(r.history('m').length, 1);
    assert.throws(() => queued(r, 'm', '2'), /readonly/);
    r.close();
    s.close();
  });
});
