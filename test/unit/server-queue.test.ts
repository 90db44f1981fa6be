import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { KilnError } from '../../src/errors.ts';
import type { PromoteRequest, PromoteResult } from '../../src/pipeline/promote-types.ts';
import { kilnMetrics } from '../../src/server/kiln-metrics.ts';
import { PromotionQueue } from '../../src/server/queue.ts';
import { StateStore } from '../../src/server/state.ts';
import { tempDir } from '../rig/proc.ts';

// The queue's dedupe and coalescing rules end to end over the real SQLite store, with a promoter
// the test controls: each call waits until the test releases it.

const dirs: Array<{ remove: () => Promise<void> }> = [];
after(async () => {
  for (const d of dirs) await d.remove();
});

interface Call {
  req: PromoteRequest;
  release: (fail?: Error) => void;
}

function gatedPromoter() {
  const calls: Call[] = [];
  const waiters: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const promoter = (req: PromoteRequest): Promise<PromoteResult> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise((resolve, reject) => {
      req.signal?.addEventListener('abort', () => reject(req.signal?.reason), { once: true });
      calls.push({
        req,
        release: (fail) => {
          inFlight--;
          if (fail) reject(fail);
          else resolve(result(req));
        },
      });
      for (const w of waiters.splice(0)) w();
    });
  };
  const callCount = async (n: number) => {
    while (calls.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { promoter, calls, callCount, maxInFlight: () => maxInFlight };
}

function result(req: PromoteRequest): PromoteResult {
  return {
    name: req.name,
    version: req.version!,
    digest: `sha256:${'a'.repeat(63)}${req.version!.slice(-1)}` as PromoteResult['digest'],
    reference: `127.0.0.1:5000/m@sha256:${'a'.repeat(64)}`,
    signed: true,
    deployedTo: 'prod/m',
    reused: false,
    bytesPushed: 1000,
    durationMs: 1,
  };
}

async function setup(concurrency = 2, dir?: string) {
  let path = dir;
  if (!path) {
    const d = await tempDir('queue');
    dirs.push(d);
    path = d.path;
  }
  const store = StateStore.open(path);
  const gate = gatedPromoter();
  const metrics = kilnMetrics({ queueDepth: () => store.counts().queued, running: () => 0 });
  const queue = new PromotionQueue({ store, promoter: gate.promoter, concurrency, metrics });
  return { dir: path, store, queue, metrics, ...gate };
}

let t = 1_000;
const at = () => {
  t += 10;
  return t;
};

describe('promotion queue', () => {
  test('a delivery id is accepted once, also after the store is reopened', async () => {
    const a = await setup();
    assert.equal(
      (await a.queue.acceptDelivery('d-1', { name: 'm', version: '1', eventAtUs: at() }))?.word,
      'queued',
    );
    assert.equal(
      await a.queue.acceptDelivery('d-1', { name: 'm', version: '1', eventAtUs: at() }),
      undefined,
    );
    a.store.close();
    const b = await setup(2, a.dir);
    assert.equal(
      await b.queue.acceptDelivery('d-1', { name: 'm', version: '1', eventAtUs: at() }),
      undefined,
    );
    b.store.close();
  });

  test('the same delivery arriving twice at once (one group commit) is accepted once', async () => {
    const q = await setup();
    const offer = { name: 'm', version: '1', eventAtUs: at() };
    const outs = await Promise.all([
      q.queue.acceptDelivery('d-x', offer),
      q.queue.acceptDelivery('d-x', offer),
    ]);
    assert.deepEqual(
      outs.map((o) => o?.word),
      ['queued', undefined],
    );
    assert.equal(q.store.counts().queued, 1);
    q.store.close();
  });

  test('a delivery that can start is marked running in its own commit; the promoter runs after the answer', async () => {
    const q = await setup(1);
    q.queue.start();
    const out = await q.queue.acceptDelivery('d-run', { name: 'm', version: '1', eventAtUs: at() });
    assert.equal(out?.word, 'queued'); // the answer does not change
    // committed with the delivery (no second commit to claim it), but not started yet
    assert.equal(q.store.get(out!.promotionId!)?.status, 'running');
    assert.equal(q.calls.length, 0);
    // a second model waits: concurrency 1 counts the claimed one before it starts
    const other = await q.queue.acceptDelivery('d-other', { name: 'n', version: '1', eventAtUs: at() });
    assert.equal(q.store.get(other!.promotionId!)?.status, 'queued');
    await q.callCount(1);
    assert.equal(q.calls[0]!.req.name, 'm');
    q.calls[0]!.release();
    await q.callCount(2);
    assert.equal(q.calls[1]!.req.name, 'n');
    q.calls[1]!.release();
    await q.queue.idle();
    assert.equal(q.maxInFlight(), 1);
    q.store.close();
  });

  test('a delivery whose commit fails claims nothing: only committed promotions ever start', async () => {
    const q = await setup();
    q.queue.start();
    const transaction = q.store.transaction.bind(q.store);
    // the batch's statements all run (claim included), then the commit fails and rolls back
    let depth = 0;
    q.store.transaction = <T>(fn: () => T): T => {
      if (depth > 0) return fn(); // claim() inside the batch's transaction
      depth++;
      try {
        return transaction(() => {
          fn();
          throw new Error('disk I/O error at commit');
        });
      } finally {
        depth--;
      }
    };
    await assert.rejects(
      q.queue.acceptDelivery('d-lost', { name: 'lost', version: '1', eventAtUs: at() }),
      /disk I\/O/,
    );
    q.store.transaction = transaction;
    assert.equal(q.store.history('lost').length, 0);
    await q.queue.acceptDelivery('d-kept', { name: 'kept', version: '1', eventAtUs: at() });
    await q.callCount(1);
    q.calls[0]!.release();
    await q.queue.idle();
    assert.deepEqual(
      q.calls.map((c) => c.req.name),
      ['kept'],
    );
    q.store.close();
  });

  test('stopped before a claimed delivery starts: it stays running and is resumed once at the next start', async () => {
    const a = await setup();
    a.queue.start();
    const out = await a.queue.acceptDelivery('d-stop', { name: 'm', version: '3', eventAtUs: at() });
    assert.deepEqual(await a.queue.stop(1000), { unfinished: 0 });
    await new Promise((r) => setImmediate(r));
    assert.equal(a.calls.length, 0);
    assert.equal(a.store.get(out!.promotionId!)?.status, 'running');
    a.store.close();
    const b = await setup(2, a.dir);
    b.queue.start();
    await b.callCount(1);
    b.calls[0]!.release();
    await b.queue.idle();
    assert.equal(b.store.get(out!.promotionId!)?.status, 'succeeded');
    assert.equal(b.calls.length, 1);
    b.store.close();
  });

  test('a burst while one promotion runs: the running one finishes, only the newest queued one runs next', async () => {
    const q = await setup();
    q.queue.start();
    q.queue.offer({ name: 'm', version: '1', eventAtUs: at(), source: 'webhook' });
    await q.callCount(1);
    for (const v of ['2', '3', '4', '5'])
      q.queue.offer({ name: 'm', version: v, eventAtUs: at(), source: 'webhook' });
    assert.equal(q.store.counts().queued, 1);
    q.calls[0]!.release();
    await q.callCount(2);
    assert.equal(q.calls[1]!.req.version, '5');
    q.calls[1]!.release();
    await q.queue.idle();
    const hist = q.store.history('m').map((r) => `${r.version}:${r.status}`);
    assert.deepEqual(hist, ['5:succeeded', '4:superseded', '3:superseded', '2:superseded', '1:succeeded']);
    assert.equal(q.metrics.promotions.get({ result: 'superseded' }), 3);
    assert.equal(q.metrics.promotions.get({ result: 'succeeded' }), 2);
    assert.equal(q.metrics.bytesPushed.get(), 2000);
    q.store.close();
  });

  test('duplicates of the queued, running or deployed version start nothing', async () => {
    const q = await setup();
    q.queue.start();
    q.queue.offer({ name: 'm', version: '1', eventAtUs: at(), source: 'webhook' });
    await q.callCount(1);
    assert.equal(
      q.queue.offer({ name: 'm', version: '1', eventAtUs: at(), source: 'reconcile' }).word,
      'already-running',
    );
    q.calls[0]!.release();
    await q.queue.idle();
    assert.equal(
      q.queue.offer({ name: 'm', version: '1', eventAtUs: at(), source: 'reconcile' }).word,
      'already-deployed',
    );
    await q.queue.idle();
    assert.equal(q.calls.length, 1);
    q.store.close();
  });

  test('one model at a time, and at most `concurrency` models at once', async () => {
    const q = await setup(2);
    q.queue.start();
    for (const name of ['a', 'b', 'c', 'd'])
      q.queue.offer({ name, version: '1', eventAtUs: at(), source: 'webhook' });
    await q.callCount(2); // a/1 and b/1 run; c/1 and d/1 wait
    for (const name of ['a', 'b', 'c', 'd'])
      q.queue.offer({ name, version: '2', eventAtUs: at(), source: 'webhook' });
    let released = 0;
    while (released < 6) {
      await q.callCount(released + 1);
      await new Promise((r) => setImmediate(r)); // let the queue start all it may before checking
      const running = q.calls.slice(released);
      assert.ok(running.length <= 2, `${running.length} running at once`);
      const names = running.map((c) => c.req.name);
      assert.equal(new Set(names).size, names.length, `one model twice at once: ${names}`);
      q.calls[released]!.release();
      released++;
    }
    await q.queue.idle();
    assert.equal(q.maxInFlight(), 2);
    // c/1 and d/1 were still queued when version 2 arrived: superseded, never run
    assert.deepEqual(q.calls.map((c) => `${c.req.name}/${c.req.version}`).sort(), [
      'a/1',
      'a/2',
      'b/1',
      'b/2',
      'c/2',
      'd/2',
    ]);
    q.store.close();
  });

  test('a failed promotion is recorded and retried by the next offer of the same version', async () => {
    const q = await setup();
    q.queue.start();
    q.queue.offer({ name: 'm', version: '7', eventAtUs: at(), source: 'webhook' });
    await q.callCount(1);
    q.calls[0]!.release(new Error('registry down'));
    await q.queue.idle();
    assert.deepEqual(
      q.store.history('m').map((r) => [r.version, r.status, r.error]),
      [['7', 'failed', 'registry down']],
    );
    assert.equal(
      q.queue.offer({ name: 'm', version: '7', eventAtUs: at(), source: 'reconcile' }).word,
      'queued',
    );
    await q.callCount(2);
    q.calls[1]!.release();
    await q.queue.idle();
    assert.deepEqual(
      q.store.history('m').map((r) => r.status),
      ['succeeded', 'failed'],
    );
    assert.equal(q.metrics.promotions.get({ result: 'failed' }), 1);
    q.store.close();
  });

  test('a promotion refused by the model security scan is recorded with its finding and counted as blocked', async () => {
    const q = await setup();
    q.queue.start();
    q.queue.offer({ name: 'm', version: '8', eventAtUs: at(), source: 'webhook' });
    await q.callCount(1);
    q.calls[0]!.release(
      new KilnError(
        'SCAN_BLOCKED',
        'the model security scan blocked 1 file(s): model.pkl @17 REDUCE posix.getpid',
        {
          kind: 'policy',
        },
      ),
    );
    await q.queue.idle();
    const [row] = q.store.history('m');
    assert.equal(row!.status, 'failed');
    assert.match(row!.error ?? '', /^SCAN_BLOCKED: .*posix\.getpid/);
    assert.equal(q.metrics.promotions.get({ result: 'blocked' }), 1);
    assert.equal(q.metrics.promotions.get({ result: 'failed' }), 0);
    q.store.close();
  });

  test('a delivery older than one already seen for the model is out of date and starts nothing', async () => {
    const q = await setup();
    q.queue.start();
    const late = at();
    await q.queue.acceptDelivery('new', { name: 'm', version: '9', eventAtUs: at() });
    assert.equal(
      (await q.queue.acceptDelivery('old', { name: 'm', version: '8', eventAtUs: late }))?.word,
      'outdated',
    );
    await q.callCount(1);
    q.calls[0]!.release();
    await q.queue.idle();
    assert.deepEqual(
      q.calls.map((c) => c.req.version),
      ['9'],
    );
    q.store.close();
  });

  test('a promotion interrupted by shutdown stays "running" and is resumed, once, at the next start', async () => {
    const a = await setup();
    a.queue.start();
    a.queue.offer({ name: 'm', version: '3', eventAtUs: at(), source: 'webhook' });
    await a.callCount(1);
    const { unfinished } = await a.queue.stop(10); // the promoter never finishes: aborted
    assert.equal(unfinished, 1);
    assert.equal(a.store.history('m')[0]!.status, 'running');
    a.store.close();

    const b = await setup(2, a.dir);
    b.queue.start();
    await b.callCount(1);
    assert.equal(b.calls[0]!.req.version, '3');
    b.calls[0]!.release();
    await b.queue.idle();
    const hist = b.store.history('m');
    assert.equal(hist.length, 1);
    assert.equal(hist[0]!.status, 'succeeded');
    assert.equal(hist[0]!.attempts, 2);
    b.store.close();
  });
});
