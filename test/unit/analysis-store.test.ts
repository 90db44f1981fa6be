// kiln serve's analysis tables: a state and its decision commit together, a restart reads the live
// analysis back exactly where it was, and a newer version supersedes the running one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decide, startAnalysis } from '../../src/analysis/steps.ts';
import type { Decision } from '../../src/analysis/types.ts';
import { resolvePolicy } from '../../src/config/rollout.ts';
import { AnalysisStore } from '../../src/server/analysis-store.ts';

const policy = resolvePolicy({ steps: [10, 50], interval: 5 });
const target = { namespace: 'ml', name: 'iris', model: 'iris', version: '2', image: 'r/iris@sha256:aa' };

test('state and decision survive a reopen (restart resumes the same step); a new version supersedes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-analysis-'));
  const file = join(dir, 'state.db');
  try {
    let store = new AnalysisStore(file);
    const s0 = startAnalysis(target, policy, 1000);
    const id = store.start(s0, 7, 1000);
    const out = decide(s0, 'pass', policy, 2000, 'agree');
    const d: Decision = {
      at: 'T',
      step: -1,
      percent: 0,
      verdict: 'pass',
      action: out.action,
      nextPercent: 10,
      reason: out.reason,
      checks: [],
    };
    store.record(id, out.state, d, 2000);
    store.close();

    store = new AnalysisStore(file); // "restart"
    const live = store.live();
    assert.equal(live.length, 1);
    assert.equal(live[0]?.state.stepIndex, 0);
    assert.equal(live[0]?.promotionId, 7);
    assert.deepEqual(
      store.decisions(id).map((x) => x.action),
      ['advance'],
    );

    const id2 = store.start(
      startAnalysis({ ...target, version: '3', image: 'r/iris@sha256:bb' }, policy, 3000),
      8,
      3000,
    );
    assert.equal(store.get(id)?.status, 'superseded');
    assert.deepEqual(
      store.live().map((r) => r.id),
      [id2],
    );
    const snap = store.snapshot();
    assert.equal(snap.live.length, 1);
    assert.equal(snap.recent.length, 1);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an old state file without analysis tables reads as no analyses (kiln history on an older server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-analysis-'));
  try {
    const file = join(dir, 'state.db');
    new AnalysisStore(file).close(); // creates the file...
    const ro = new AnalysisStore(file, { readOnly: true });
    assert.equal(ro.hasTables, true);
    ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the dashboard's canary shows the analysis of exactly that canary's digest, with its newest decision", async () => {
  const { storeAnalysis } = await import('../../src/server/dashboard/analysis.ts');
  const dir = mkdtempSync(join(tmpdir(), 'kiln-analysis-'));
  try {
    const store = new AnalysisStore(join(dir, 'state.db'));
    const source = storeAnalysis(store);
    assert.equal(source('iris', 'sha256:aa'), undefined, 'no analysis yet');
    const s0 = startAnalysis(target, policy, 1000);
    const id = store.start(s0, 7, 1000);
    const out = decide(s0, 'pass', policy, 2000, 'predictions agree');
    store.record(
      id,
      out.state,
      {
        at: '2026-12-01T10:00:00.000Z',
        step: -1,
        percent: 10,
        verdict: 'pass',
        action: out.action,
        nextPercent: 10,
        reason: out.reason,
        checks: [],
      },
      2000,
    );
    const shown = source('iris', 'sha256:aa');
    assert.equal(shown?.state, 'running');
    assert.equal(shown?.lastDecision, 'advance');
    assert.equal(shown?.step, 10);
    assert.equal(shown?.at, Date.parse('2026-12-01T10:00:00.000Z'));
    assert.equal(source('iris', 'sha256:bb'), undefined, 'another digest is another canary');
    assert.equal(source('other', 'sha256:aa'), undefined);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
