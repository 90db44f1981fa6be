// The Event a decision becomes: reason and type per outcome, the message with its evidence, and a
// name that is the same for the same decision (so a repeat counts up) and valid for the API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionEvent } from '../../src/analysis/events.ts';
import type { AnalysisState, CheckResult, Decision } from '../../src/analysis/types.ts';
import { eventNameFor } from '../../src/kserve/events.ts';

const s: AnalysisState = {
  namespace: 'ml',
  name: 'risk',
  model: 'risk',
  version: '7',
  image: 'r@sha256:aa',
  phase: 'progressing',
  stepIndex: 1,
  stepStartedAt: 0,
  nextCheckAt: 0,
  inconclusiveInARow: 0,
  failuresInStep: 0,
  startedAt: 0,
  finishedAt: undefined,
  reason: undefined,
};
const check = (verdict: CheckResult['verdict'], reason: string): CheckResult => ({
  check: 'success-rate',
  type: 'success-rate',
  verdict,
  reason,
  queries: [],
  values: {},
  threshold: undefined,
  test: undefined,
  at: '',
});
const d = (
  action: Decision['action'],
  verdict: Decision['verdict'],
  step = 1,
  checks: CheckResult[] = [],
) => ({
  at: '',
  step,
  percent: 25,
  verdict,
  action,
  nextPercent: 50,
  reason: `the ${action} reason`,
  checks,
});

test('each outcome has its own reason and type', () => {
  const seen = (
    [
      [d('advance', 'pass', -1), 'CanaryAgreement', 'Normal'],
      [d('advance', 'pass'), 'CanaryStepAdvanced', 'Normal'],
      [d('hold', 'inconclusive'), 'CanaryInconclusive', 'Normal'],
      [d('hold', 'fail'), 'CanaryCheckFailed', 'Warning'],
      [d('promote', 'pass'), 'CanaryPromoted', 'Normal'],
      [d('abort', 'fail'), 'CanaryAborted', 'Warning'],
      [d('pause', 'inconclusive'), 'CanaryPaused', 'Warning'],
    ] as const
  ).map(([dec, reason, type]) => {
    const ev = decisionEvent(dec, s);
    assert.equal(ev.reason, reason);
    assert.equal(ev.type, type);
    return ev.reason;
  });
  assert.equal(new Set(seen).size, 7);
});

test('a pass carries the evidence of its checks; a failure its reason (which names them)', () => {
  const pass = decisionEvent(
    d('advance', 'pass', 1, [check('pass', 'canary 0.1% vs primary 0.2% failed')]),
    s,
  );
  assert.equal(
    pass.message,
    'risk version 7: the advance reason (success-rate: canary 0.1% vs primary 0.2% failed)',
  );
  const fail = decisionEvent(d('abort', 'fail', 1, [check('fail', 'x')]), s);
  assert.equal(fail.message, 'risk version 7: the abort reason');
  assert.match(decisionEvent(d('abort', 'fail'), { ...s, model: undefined }).message, /^r@sha256:aa: /);
});

test('the Event name is stable per object and decision, and a valid object name', () => {
  const ev = { type: 'Normal' as const, reason: 'CanaryPromoted', message: 'm' };
  const a = eventNameFor('risk', 'uid-1', ev);
  assert.equal(a, eventNameFor('risk', 'uid-1', { ...ev }));
  assert.notEqual(a, eventNameFor('risk', 'uid-2', ev));
  assert.notEqual(a, eventNameFor('risk', 'uid-1', { ...ev, message: 'n' }));
  assert.notEqual(a, eventNameFor('risk', 'uid-1', { ...ev, reason: 'CanaryAborted' }));
  assert.match(a, /^risk\.[0-9a-f]{16}$/);
  assert.ok(eventNameFor('a'.repeat(253), 'u', ev).length <= 253);
});
