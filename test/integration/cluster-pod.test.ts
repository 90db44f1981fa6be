// The whole path, with a kubelet: kiln promotes a scikit-learn model from MLflow onto the KServe
// sklearn runtime image, `kiln deploy` writes the InferenceService, KServe's webhook and
// controller turn it into a Deployment, kube-scheduler places the Pod, the kubelet runs it on
// containerd, and the model answers predictions equal to Python's. The cold start (deploy -> Pod
// Ready) is printed, not asserted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { type ClusterRig, startCluster } from '../rig/cluster.ts';
import { pushSklearnRuntime } from '../rig/images.ts';
import { logSklearnModel, type MlflowRig, type SklearnFixture, startMlflow } from '../rig/mlflow.ts';
import { type NodeRig, startNode } from '../rig/node.ts';
import { sleep, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { startAll } from '../rig/start-all.ts';

let rig: ClusterRig;
let registry: RegistryRig;
let mlflow: MlflowRig;
let node: NodeRig | undefined;
let work: { path: string; remove: () => Promise<void> };
let fixture: SklearnFixture;
let promoted: string;
const NS = 'ml';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects
type Obj = any;

before(async () => {
  ({ rig, registry, mlflow, work } = await startAll({
    rig: startCluster({ kserve: true }),
    registry: startRegistry(),
    mlflow: startMlflow(),
    work: tempDir('cluster-pod'),
  }));
  node = await startNode(rig, registry);
  await rig.api('POST', '/api/v1/namespaces', { metadata: { name: NS } });
  const [model, runtime] = await Promise.all([
    logSklearnModel(mlflow, { name: 'risk', alias: 'champion' }),
    pushSklearnRuntime(registry),
  ]);
  fixture = model;
  const res = await kiln(
    ['promote', 'models:/risk@champion', '--to', `${registry.host}/ml/risk`, '--base', runtime.ref],
    { env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }), cwd: work.path },
  );
  assert.equal(res.code, 0, res.stderr);
  promoted = res.stdout.trim();
  for (let i = 0; i < 100; i++) {
    const sa = await rig.api(
      'GET',
      `/api/v1/namespaces/${NS}/serviceaccounts/default`,
      undefined,
      [200, 404],
    );
    if (sa.status === 200) break;
    await sleep(100);
  }
});
after(async () => {
  await node?.stop();
  await Promise.all([rig?.stop(), registry?.stop(), mlflow?.stop()]);
  await work?.remove();
});

test("kiln's baked image serves on a real Pod that KServe's controller created", async () => {
  const t0 = Date.now();
  const d = await kiln(['deploy', `${NS}/risk`, '--image', promoted], {
    env: kilnEnv({ KUBECONFIG: rig.kubeconfigPath }),
    cwd: work.path,
  });
  assert.equal(d.code, 0, d.stderr);
  let pod: Obj;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const items: Obj[] = (
      await rig.api(
        'GET',
        `/api/v1/namespaces/${NS}/pods?labelSelector=serving.kserve.io/inferenceservice=risk`,
      )
    ).json.items;
    pod = items[0];
    if (pod?.status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')) break;
    assert.ok(Date.now() < deadline, `Pod not Ready within 180 s: ${JSON.stringify(pod?.status)}`);
    await sleep(250);
  }
  console.log(`cold start: kiln deploy -> predictor Pod Ready in ${Date.now() - t0} ms`);
  assert.equal(pod.spec.nodeName, 'kiln-node');
  assert.equal(pod.spec.containers.find((c: Obj) => c.name === 'kserve-container').image, promoted);
  const res = await fetch(`http://${pod.status.podIP}:8080/v1/models/risk:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: fixture.sample.instances }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(((await res.json()) as { predictions: number[] }).predictions, fixture.sample.predictions);
  // KServe's own verdict, from the Deployment it watches.
  for (let i = 0; i < 100; i++) {
    const isvc = (
      await rig.api('GET', `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/risk`)
    ).json;
    if (isvc.status?.conditions?.some((c: Obj) => c.type === 'PredictorReady' && c.status === 'True')) return;
    await sleep(200);
  }
  assert.fail('KServe never reported PredictorReady');
});
