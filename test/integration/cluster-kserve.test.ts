// KServe's own controller reconciles what kiln writes: a real kube-apiserver + kube-controller-manager
// (v1.36.3) and KServe v0.20.0's controller with its admission webhooks, in Standard (raw
// Deployment) mode. kiln deploys through the CLI; KServe's defaulting and validating webhooks must
// accept the object, its controller must create the predictor Deployment with kiln's digest, and
// kube-controller-manager the ReplicaSet and Pod (no kubelet runs them: see docs/cluster.md).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { kilnInProcess } from '../rig/cli.ts';
import { type ClusterRig, startCluster } from '../rig/cluster.ts';
import { isvcPath } from '../rig/kube-api.ts';
import { sleep } from '../rig/proc.ts';

let rig: ClusterRig;
let env: NodeJS.ProcessEnv;
const NS = 'ml';

before(async () => {
  rig = await startCluster({ kserve: true });
  console.log(`cluster rig with KServe ready in ${rig.startupMs} ms ${JSON.stringify(rig.phases)}`);
  env = { ...process.env, KUBECONFIG: rig.kubeconfigPath };
  await rig.api('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  // Pods are refused until the service-account controller has made `default` in the namespace.
  await until(
    'the default service account',
    async () =>
      (await rig.api('GET', `/api/v1/namespaces/${NS}/serviceaccounts/default`, undefined, [200, 404]))
        .status,
    (status) => status === 200,
  );
});
after(async () => {
  await rig?.stop();
});

const REPO = '127.0.0.1:5000/ml/risk-classifier';
const image = (c: string) => `${REPO}@sha256:${c.repeat(64)}`;
const kiln = (...argv: string[]) => kilnInProcess(argv, { env, cwd: rig.dir });

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects
type Obj = any;

/** Poll `read` until `check` holds; fail naming what was last seen. */
async function until<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined as T);
    if (last !== undefined && check(last)) return last;
    await sleep(100);
  }
  throw new Error(`${what}: not seen within ${ms} ms; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

const deployment = (name: string) => async (): Promise<Obj> =>
  (await rig.api('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${name}-predictor`)).json;
const container = (d: Obj, name = 'kserve-container') =>
  d?.spec?.template?.spec?.containers?.find((c: Obj) => c.name === name);
const isvc = async (name: string): Promise<Obj> => (await rig.api('GET', isvcPath(NS, name))).json;

test("baked: KServe's webhook accepts kiln's InferenceService and its controller runs kiln's digest", async () => {
  const r = await kiln(
    'deploy',
    `${NS}/risk`,
    '--image',
    image('a'),
    '--model-name',
    'risk',
    '--model-version',
    '1',
  );
  assert.equal(r.code, 0, r.stderr);
  const d = await until(
    'predictor Deployment with the first digest',
    deployment('risk'),
    (d) => container(d)?.image === image('a'),
  );
  assert.deepEqual(container(d).args.slice(0, 2), ['--model_name=risk', '--model_dir=/mnt/models']);
  // The controller owns what it created, and labels it with the InferenceService.
  assert.equal(d.metadata.ownerReferences[0].kind, 'InferenceService');
  assert.equal(d.spec.template.metadata.labels['serving.kserve.io/inferenceservice'], 'risk');
  // kube-controller-manager's ReplicaSet controller turned it into a Pod with the same image.
  const pods = await until(
    'a predictor Pod',
    async () =>
      (
        await rig.api(
          'GET',
          `/api/v1/namespaces/${NS}/pods?labelSelector=serving.kserve.io/inferenceservice=risk`,
        )
      ).json.items as Obj[],
    (items) => items.length > 0,
  );
  const podContainer = pods[0].spec.containers.find((c: Obj) => c.name === 'kserve-container');
  assert.equal(podContainer?.image, image('a'));
});

test('a second deploy and a rollback move the Deployment to the new digest and back', async () => {
  assert.equal((await kiln('deploy', `${NS}/risk`, '--image', image('b'))).code, 0);
  await until(
    'Deployment at the second digest',
    deployment('risk'),
    (d) => container(d)?.image === image('b'),
  );
  const back = await kiln('rollback', `${NS}/risk`);
  assert.equal(back.code, 0, back.stderr);
  await until(
    'Deployment back at the first digest',
    deployment('risk'),
    (d) => container(d)?.image === image('a'),
  );
  assert.equal(container(await deployment('risk')())?.image, image('a'));
});

test('KServe defaults the mode to Standard on the object, and kiln then refuses a canary it cannot honour', async () => {
  const obj = await isvc('risk');
  assert.equal(obj.metadata.annotations['serving.kserve.io/deploymentMode'], 'Standard');
  const r = await kiln('deploy', `${NS}/risk`, '--image', image('c'), '--canary', '10');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /RawDeployment/);
  assert.equal(container(await deployment('risk')())?.image, image('a'));
});

test("modelcar: KServe's pod webhook injects kiln's image as the modelcar next to the sklearn runtime", async () => {
  const r = await kiln('deploy', `${NS}/car`, '--image', image('d'), '--mode', 'modelcar');
  assert.equal(r.code, 0, r.stderr);
  const d = await until(
    'modelcar predictor Deployment',
    deployment('car'),
    (d) => container(d) !== undefined,
  );
  // The sklearn ClusterServingRuntime was selected from kiln's modelFormat.
  assert.match(container(d).image, /^kserve\/sklearnserver:/);
  const pods = await until(
    'a modelcar Pod',
    async () =>
      (
        await rig.api(
          'GET',
          `/api/v1/namespaces/${NS}/pods?labelSelector=serving.kserve.io/inferenceservice=car`,
        )
      ).json.items as Obj[],
    (items) => items.length > 0,
  );
  const pod = pods[0];
  const named = (list: Obj[] | undefined, name: string) => list?.find((c: Obj) => c.name === name);
  // KServe v0.20 checks the image has a non-empty /models first, then runs it beside the server.
  assert.equal(named(pod.spec.initContainers, 'modelcar-init')?.image, image('d'));
  assert.equal(named(pod.spec.containers, 'modelcar')?.image, image('d'));
  assert.match(named(pod.spec.containers, 'kserve-container')?.args.join(' '), /--model_dir=\/mnt\/models/);
});

test("kiln status reads what KServe's controller wrote: raw mode, kiln's digest, not ready (no kubelet)", async () => {
  // KServe's controller writes the status asynchronously after the deploy: wait for it to have
  // reconciled this generation, then check what kiln status reads from it.
  const status = await until(
    'kiln status to see the controller reconcile car',
    async () => {
      const r = await kiln('status', `${NS}/car`, '--json');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Obj;
    },
    (s) => s.reconciled === true,
  );
  assert.equal(status.deploymentMode, 'RawDeployment');
  assert.equal(status.image, image('d'));
  assert.equal(status.reconciled, true);
  assert.equal(status.ready, 'False');
});
