import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { HISTORY_LIMIT } from '../../src/kserve/annotations.ts';
import { planDeploy } from '../../src/kserve/plan.ts';
import { planAbort, planPromote, planRollback } from '../../src/kserve/plan-rollout.ts';
import { renderInferenceService } from '../../src/kserve/render.ts';
import type { InferenceService } from '../../src/kserve/types.ts';

const ref = { namespace: 'prod', name: 'risk' };
const img = (c: string) => `r.example/ml/risk@sha256:${c.repeat(64)}`;
const now = new Date('2026-01-01T00:00:00Z');

/** What the API server would hold after kiln applied `state` (generation bumped for spec changes). */
function applied(prev: InferenceService | undefined, state: ReturnType<typeof planDeploy>): InferenceService {
  const body = renderInferenceService(ref, state, prev);
  return { ...body, metadata: { ...body.metadata, generation: (prev?.metadata.generation ?? 0) + 1 } };
}

test('deploy records the digest, MLflow version and the generation it will have', () => {
  const s = planDeploy(ref, undefined, { image: img('1'), model: { name: 'risk', version: '1' } }, now);
  assert.deepEqual(s.history, [
    { image: img('1'), mode: 'baked', model: 'risk', version: '1', at: now.toISOString(), generation: 1 },
  ]);
  assert.equal(s.canaryPercent, undefined);
});

test('the history keeps the newest entries only, and redeploying the same digest adds none', () => {
  let live: InferenceService | undefined;
  for (let i = 0; i < HISTORY_LIMIT + 3; i++)
    live = applied(live, planDeploy(ref, live, { image: img(i.toString(16)) }, now));
  const again = planDeploy(ref, live, { image: img((HISTORY_LIMIT + 2).toString(16)) }, now);
  assert.equal(again.history.length, HISTORY_LIMIT);
  assert.equal(again.history[0]?.image, img('c'));
  assert.equal(again.history.at(-1)?.image, img('3'));
});

test('an image already serving that kiln did not record is kept as a rollback target', () => {
  const handMade: InferenceService = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'risk', namespace: 'prod', generation: 4 },
    spec: { predictor: { containers: [{ name: 'kserve-container', image: img('0') }] } },
  };
  const s = planDeploy(ref, handMade, { image: img('1') }, now);
  assert.deepEqual(
    s.history.map((e) => e.image),
    [img('1'), img('0')],
  );
  const tagged = {
    ...handMade,
    spec: { predictor: { containers: [{ name: 'kserve-container', image: 'r.example/m:latest' }] } },
  };
  assert.deepEqual(
    planDeploy(ref, tagged, { image: img('1') }, now).history.map((e) => e.image),
    [img('1')],
    'never a tag',
  );
});

test('rollback goes to the newest other digest (toggling like kubectl rollout undo) and removes the canary', () => {
  let live = applied(
    undefined,
    planDeploy(ref, undefined, { image: img('1'), model: { name: 'risk', version: '1' } }, now),
  );
  live = applied(live, planDeploy(ref, live, { image: img('2'), canaryPercent: 10 }, now));
  const back = planRollback(ref, live, undefined, now);
  assert.equal(back.image, img('1'));
  assert.deepEqual(back.model, { name: 'risk', version: '1' });
  assert.equal(back.canaryPercent, undefined);
  live = applied(live, back);
  assert.equal(planRollback(ref, live, undefined, now).image, img('2'));
  assert.equal(
    planRollback(ref, live, `sha256:${'1'.repeat(64)}`, now).image,
    img('1'),
    '--to the one serving is a no-op',
  );
});

test('rollback refuses without history (policy, exit 3) and with an unknown --to (usage)', () => {
  const live = applied(undefined, planDeploy(ref, undefined, { image: img('1') }, now));
  assert.throws(
    () => planRollback(ref, live, undefined, now),
    (e) => isKilnError(e, 'NO_ROLLBACK_HISTORY') && e.exitCode === 3,
  );
  assert.throws(
    () => planRollback(ref, live, `sha256:${'9'.repeat(64)}`, now),
    (e) => isKilnError(e, 'ROLLBACK_TARGET_UNKNOWN') && e.kind === 'usage',
  );
  assert.throws(
    () => planRollback(ref, undefined, undefined, now),
    (e) => isKilnError(e, 'ISVC_NOT_FOUND'),
  );
});

test('promote drops the canary; abort sets 0 and refuses when no canary is in progress', () => {
  let live = applied(undefined, planDeploy(ref, undefined, { image: img('1') }, now));
  assert.throws(
    () => planAbort(ref, live),
    (e) => isKilnError(e, 'NO_CANARY') && e.exitCode === 3,
  );
  live = applied(live, planDeploy(ref, live, { image: img('2'), canaryPercent: 20 }, now));
  assert.equal(planPromote(ref, live).canaryPercent, undefined);
  assert.equal(planAbort(ref, live).canaryPercent, 0);
  assert.equal(planAbort(ref, live).image, img('2'));
});

test('promote and abort refuse to re-apply a tag someone else put in the spec; rollback still works', () => {
  let live = applied(undefined, planDeploy(ref, undefined, { image: img('1') }, now));
  live = applied(live, planDeploy(ref, live, { image: img('2'), canaryPercent: 5 }, now));
  const container = live.spec.predictor.containers?.[0];
  if (container) container.image = 'r.example/ml/risk:latest';
  assert.throws(
    () => planPromote(ref, live),
    (e) => isKilnError(e, 'ISVC_IMAGE_NOT_PINNED') && e.exitCode === 3,
  );
  assert.throws(
    () => planAbort(ref, live),
    (e) => isKilnError(e, 'ISVC_IMAGE_NOT_PINNED'),
  );
  assert.equal(planRollback(ref, live, undefined, now).image, img('2'));
});

test('canary percentages outside 0..100 and canaries on RawDeployment are refused', () => {
  assert.throws(
    () => planDeploy(ref, undefined, { image: img('1'), canaryPercent: 101 }, now),
    (e) => isKilnError(e, 'CANARY_INVALID'),
  );
  const raw = applied(undefined, planDeploy(ref, undefined, { image: img('1') }, now));
  raw.metadata.annotations = {
    ...raw.metadata.annotations,
    'serving.kserve.io/deploymentMode': 'RawDeployment',
  };
  assert.throws(
    () => planDeploy(ref, raw, { image: img('2'), canaryPercent: 10 }, now),
    (e) => isKilnError(e, 'CANARY_UNSUPPORTED_RAW') && e.exitCode === 3,
  );
  assert.equal(planDeploy(ref, raw, { image: img('2') }, now).image, img('2'));
});
