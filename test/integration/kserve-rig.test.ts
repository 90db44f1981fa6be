// The Kubernetes test rig itself: a real API server that enforces KServe's InferenceService schema.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isvcPath, type KubeRig, kubeRequest, startKube } from '../rig/kube.ts';

let rig: KubeRig;

before(async () => {
  rig = await startKube();
});
after(async () => {
  await rig?.stop();
});

const create = (namespace: string, body: object) =>
  kubeRequest(
    rig.server,
    rig.tls,
    'POST',
    `/apis/serving.kserve.io/v1beta1/namespaces/${namespace}/inferenceservices`,
    JSON.stringify(body),
  );

const isvc = (name: string, spec: object) => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name },
  spec,
});

test('starts etcd + apiextensions-apiserver with the KServe CRD served, and reports how long it took', (t) => {
  t.diagnostic(`kube rig start-up: ${rig.startupMs} ms ${JSON.stringify(rig.phases)}`);
  assert.match(rig.server, /^https:\/\/127\.0\.0\.1:\d+$/);
});

test('an InferenceService that matches the CRD schema is accepted', async () => {
  const res = await create(
    'rig',
    isvc('ok', {
      predictor: {
        containers: [{ name: 'kserve-container', image: 'r.example/m@sha256:' + 'a'.repeat(64) }],
      },
    }),
  );
  assert.equal(res.status, 201, res.text);
  assert.equal((await kubeRequest(rig.server, rig.tls, 'GET', isvcPath('rig', 'ok'))).status, 200);
});

test('an InferenceService without spec.predictor is rejected by the schema (required field)', async () => {
  const res = await create('rig', isvc('no-predictor', {}));
  assert.equal(res.status, 422, res.text);
  assert.match(res.json.message, /spec\.predictor: Required value/);
});

test('a canary trafficPercent over 100 and a wrongly typed field are rejected by the schema', async () => {
  const over = await create(
    'rig',
    isvc('bad-canary', {
      predictor: { containers: [{ name: 'kserve-container', image: 'x' }] },
      canary: [{ trafficPercent: 150, predictor: { name: 'v2' } }],
    }),
  );
  assert.equal(over.status, 422, over.text);
  assert.match(over.json.message, /trafficPercent: Invalid value: 150/);
  const typed = await create('rig', isvc('bad-type', { predictor: { canaryTrafficPercent: 'ten' } }));
  assert.equal(typed.status, 422, typed.text);
  assert.match(typed.json.message, /canaryTrafficPercent: Invalid value/);
});
