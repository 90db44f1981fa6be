import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../src/kserve/status.ts';
import type { InferenceService } from '../../src/kserve/types.ts';

const ref = { namespace: 'prod', name: 'risk' };
const img = (c: string) => `r.example/ml/risk@sha256:${c.repeat(64)}`;
const history = [
  { image: img('2'), mode: 'baked', model: 'risk', version: '2', at: 't2', generation: 3 },
  { image: img('1'), mode: 'baked', model: 'risk', version: '1', at: 't1', generation: 1 },
];

function isvc(
  generation: number,
  observed: number,
  revisions: Record<string, string> = {},
): InferenceService {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name: 'risk',
      namespace: 'prod',
      generation,
      annotations: {
        'kiln.dev/image': img('2'),
        'kiln.dev/model-name': 'risk',
        'kiln.dev/model-version': '2',
        'kiln.dev/history': JSON.stringify(history),
        'kiln.dev/revisions': JSON.stringify(revisions),
      },
    },
    spec: {
      predictor: { canaryTrafficPercent: 10, containers: [{ name: 'kserve-container', image: img('2') }] },
    },
    status: {
      observedGeneration: observed,
      components: {
        predictor: {
          latestCreatedRevision: 'risk-00002',
          latestReadyRevision: 'risk-00002',
          latestRolledoutRevision: 'risk-00001',
          traffic: [
            { revisionName: 'risk-00002', percent: 10, latestRevision: true, tag: 'latest' },
            { revisionName: 'risk-00001', percent: 90, latestRevision: false, tag: 'prev' },
          ],
        },
      },
    },
  };
}

test('each revision shows its traffic share, digest and MLflow version', () => {
  const r = summarize(ref, isvc(3, 3, { 'risk-00001': img('1') }));
  assert.equal(r.reconciled, true);
  assert.deepEqual(
    r.revisions.map((v) => [v.revision, v.percent, v.digest?.slice(7, 9), v.version, v.tag, v.latest]),
    [
      ['risk-00002', 10, '22', '2', 'latest', true],
      ['risk-00001', 90, '11', '1', 'prev', false],
    ],
  );
  assert.deepEqual(r.revisions[1]?.roles, ['latestRolledout']);
});

test('a controller that has not seen the newest spec maps its latest revision by generation', () => {
  // generation 4 (say a canary change) not observed yet; observed 3 is when image 2 came in.
  const r = summarize(ref, isvc(4, 3, {}));
  assert.equal(r.reconciled, false);
  assert.equal(r.revisions[0]?.version, '2');
  assert.equal(r.revisions[1]?.digest, undefined, 'an older revision kiln never saw stays unknown');
  const older = summarize(ref, isvc(4, 2, {}));
  assert.equal(older.revisions[0]?.version, '1', 'at generation 2 the spec still had image 1');
});
