import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needsApply } from '../../src/kserve/apply.ts';
import { type KilnState, renderInferenceService } from '../../src/kserve/render.ts';
import type { InferenceService } from '../../src/kserve/types.ts';

const ref = { namespace: 'prod', name: 'risk' };
const img = (c: string) => `r.example/ml/risk@sha256:${c.repeat(64)}`;
const state = (over: Partial<KilnState> = {}): KilnState => ({
  image: img('1'),
  mode: 'baked',
  history: [{ image: img('1'), mode: 'baked', at: '2026-01-01T00:00:00.000Z' }],
  revisions: {},
  ...over,
});

test('baked mode: containers[0] is kserve-container at the digest with the model server arguments', () => {
  const isvc = renderInferenceService(ref, state(), undefined);
  assert.equal(isvc.apiVersion, 'serving.kserve.io/v1beta1');
  assert.deepEqual(isvc.spec.predictor.containers, [
    { name: 'kserve-container', image: img('1'), args: ['--model_name=risk', '--model_dir=/mnt/models'] },
  ]);
  assert.equal(isvc.spec.predictor.model, undefined);
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, undefined);
});

test('modelcar mode: storageUri oci://REPO@sha256 with a model format and optional runtime', () => {
  const isvc = renderInferenceService(
    ref,
    state({ mode: 'modelcar', runtime: 'kserve-sklearnserver' }),
    undefined,
  );
  assert.deepEqual(isvc.spec.predictor.model, {
    modelFormat: { name: 'sklearn' },
    runtime: 'kserve-sklearnserver',
    storageUri: `oci://${img('1')}`,
  });
  assert.equal(isvc.spec.predictor.containers, undefined);
});

test('annotations carry image, MLflow model/version and the history; the canary percent is rendered', () => {
  const isvc = renderInferenceService(
    ref,
    state({ canaryPercent: 10, model: { name: 'risk', version: '7' } }),
    undefined,
    {
      resourceVersion: '42',
    },
  );
  const a = isvc.metadata.annotations ?? {};
  assert.equal(a['kiln.dev/image'], img('1'));
  assert.equal(a['kiln.dev/model-name'], 'risk');
  assert.equal(a['kiln.dev/model-version'], '7');
  assert.equal(JSON.parse(a['kiln.dev/history'] ?? '[]')[0].image, img('1'));
  assert.equal(isvc.metadata.resourceVersion, '42');
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 10);
});

const live = (): InferenceService => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name: 'risk', namespace: 'prod', resourceVersion: '7' },
  spec: {
    predictor: {
      containers: [
        {
          name: 'kserve-container',
          image: img('0'),
          args: ['--model_name=old', '--workers=2'],
          resources: { limits: { memory: '2Gi' } },
        },
        { name: 'sidecar', image: 'busybox' },
      ],
    },
  },
});

test('the atomic containers list is sent back with other fields kept: only image and kiln args change', () => {
  const [kserve, sidecar] = renderInferenceService(ref, state(), live()).spec.predictor.containers ?? [];
  assert.deepEqual(kserve, {
    name: 'kserve-container',
    image: img('1'),
    args: ['--model_name=risk', '--model_dir=/mnt/models', '--workers=2'],
    resources: { limits: { memory: '2Gi' } },
  });
  assert.deepEqual(sidecar, { name: 'sidecar', image: 'busybox' });
});

test('needsApply is false only when every kiln-owned field already matches', () => {
  const rendered = renderInferenceService(ref, state(), live());
  const applied: InferenceService = {
    ...live(),
    metadata: { ...live().metadata, annotations: { ...rendered.metadata.annotations, other: 'x' } },
    spec: { predictor: { ...rendered.spec.predictor, minReplicas: 2 } },
  };
  assert.equal(needsApply(rendered, applied), false);
  assert.equal(needsApply(renderInferenceService(ref, state({ canaryPercent: 0 }), applied), applied), true);
  const withCanary = {
    ...applied,
    spec: { predictor: { ...applied.spec.predictor, canaryTrafficPercent: 10 } },
  };
  assert.equal(needsApply(rendered, withCanary), true, 'promote must remove a canary');
  const stale = {
    ...applied,
    metadata: {
      ...applied.metadata,
      annotations: { ...applied.metadata.annotations, 'kiln.dev/revisions': '{}' },
    },
  };
  assert.equal(needsApply(rendered, stale), true, 'a kiln annotation to drop is a change');
});
