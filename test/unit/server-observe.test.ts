// The dashboard's promoter recorder (dashboard/observe.ts) over a real SQLite state file: it records
// under the promotion attempt the queue names in the request, and looks the running row up only
// when a caller names none.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import type { PromoteRequest, PromoteResult } from '../../src/pipeline/promote-types.ts';
import { observedPromoter } from '../../src/server/dashboard/observe.ts';
import { DashboardRecords } from '../../src/server/dashboard/records.ts';
import type { ServedPromoteRequest } from '../../src/server/promotion-run.ts';
import { StateStore } from '../../src/server/state.ts';
import { tempDir } from '../rig/proc.ts';

const dirs: Array<{ remove: () => Promise<void> }> = [];
after(async () => {
  for (const d of dirs) await d.remove();
});

async function setup() {
  const d = await tempDir('observe');
  dirs.push(d);
  const store = StateStore.open(d.path);
  const records = new DashboardRecords(store.path);
  const seen: PromoteRequest[] = [];
  const inner = async (req: PromoteRequest): Promise<PromoteResult> => {
    seen.push(req);
    req.observer?.stageStart('resolve', 1);
    return { name: req.name, version: req.version! } as PromoteResult;
  };
  return { store, records, seen, promoter: observedPromoter(inner, records, silentLogger) };
}

describe('dashboard promoter recorder', () => {
  test('records under the attempt the queue names, without looking it up', async () => {
    const t = await setup();
    // nothing is marked running in the store: a lookup would find no attempt and record nothing
    const req: ServedPromoteRequest = { name: 'm', version: '1', promotion: { id: 42, attempt: 3 } };
    await t.promoter(req);
    assert.deepEqual(
      t.records.stages(42).map((s) => [s.stage, s.attempt]),
      [['resolve', 3]],
    );
    // the wrapped promoter gets the request it always got, plus the observer
    assert.equal('promotion' in t.seen[0]!, false);
    assert.ok(t.seen[0]!.observer);
    t.records.close();
    t.store.close();
  });

  test('with no attempt named, the running row of the model names it', async () => {
    const t = await setup();
    const id = t.store.insertQueued({
      name: 'm',
      version: '2',
      source: 'webhook',
      deliveryId: undefined,
      eventAtUs: 1,
      nowMs: 1,
    });
    t.store.claim(1, 2);
    await t.promoter({ name: 'm', version: '2' });
    assert.deepEqual(
      t.records.stages(id).map((s) => [s.stage, s.attempt]),
      [['resolve', 1]],
    );
    t.records.close();
    t.store.close();
  });
});
