import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../src/server/coalesce.ts';
import type { ModelState, PromotionRef } from '../../src/server/state-types.ts';

// The coalescing rules as a table: what a new alias observation does to a model's state.

let nextId = 1;
function row(version: string, _status: 'queued' | 'running' | 'succeeded'): PromotionRef {
  return { id: nextId++, version };
}
const state = (s: Partial<ModelState> = {}): ModelState => ({
  lastEventAtUs: undefined,
  queued: undefined,
  running: undefined,
  deployed: undefined,
  ...s,
});
const offer = (version: string, eventAtUs = 100) => ({ name: 'm', version, eventAtUs });

describe('coalescing rules', () => {
  test('a first version of a model is queued', () => {
    assert.deepEqual(decide(state(), offer('1')), { action: 'enqueue', drop: undefined });
  });

  test('the version already deployed is not promoted again', () => {
    assert.deepEqual(decide(state({ deployed: row('3', 'succeeded') }), offer('3')), {
      action: 'ignore',
      reason: 'deployed',
    });
  });

  test('the version already queued or running is not queued twice', () => {
    assert.deepEqual(decide(state({ queued: row('4', 'queued') }), offer('4')), {
      action: 'ignore',
      reason: 'queued',
    });
    assert.deepEqual(decide(state({ running: row('4', 'running') }), offer('4')), {
      action: 'ignore',
      reason: 'running',
    });
  });

  test('a newer version replaces the queued one (newest wins)', () => {
    const q = row('4', 'queued');
    assert.deepEqual(decide(state({ queued: q, running: row('3', 'running') }), offer('5')), {
      action: 'enqueue',
      drop: q.id,
    });
  });

  test('while one runs, a new version waits behind it instead of running beside it', () => {
    assert.deepEqual(decide(state({ running: row('3', 'running') }), offer('4')), {
      action: 'enqueue',
      drop: undefined,
    });
  });

  test('moving back to the running version drops the queued one and adds nothing', () => {
    const q = row('5', 'queued');
    assert.deepEqual(decide(state({ queued: q, running: row('4', 'running') }), offer('4')), {
      action: 'drop-queued',
      drop: q.id,
    });
  });

  test('a version whose promotion failed is retried by the next offer', () => {
    // failed rows are never "deployed": the model is heading to the last success (3)
    assert.deepEqual(decide(state({ deployed: row('3', 'succeeded') }), offer('4')), {
      action: 'enqueue',
      drop: undefined,
    });
  });

  test('an alias moved back to an older, already promoted version promotes it again', () => {
    assert.deepEqual(decide(state({ deployed: row('5', 'succeeded') }), offer('4')), {
      action: 'enqueue',
      drop: undefined,
    });
  });

  test('an event older than one already seen for the model changes nothing (out of order)', () => {
    const s = state({ lastEventAtUs: 200, deployed: row('5', 'succeeded') });
    assert.deepEqual(decide(s, offer('4', 199)), { action: 'ignore', reason: 'outdated' });
    assert.deepEqual(decide(s, offer('4', 200)), { action: 'enqueue', drop: undefined });
  });
});
