// `--executor job` on real batch/v1: kube-apiserver + kube-controller-manager v1.36.3 (the Job
// controller runs), kiln's executor authenticated as a least-privilege service account (a real
// token), MLflow for the result. No kubelet runs here, so the test stands in for it and only for
// it: it writes the outcome of the pod the Job controller created (and, for success, the MLflow
// tags `kiln promote` in that pod writes).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { isKilnError } from '../../src/errors.ts';
import { MlflowClient, setModelVersionTag } from '../../src/mlflow/index.ts';
import { jobPromoter } from '../../src/server/executor-job.ts';
import { jobName } from '../../src/server/job-manifest.ts';
import { KILN_MAIN, kilnEnv } from '../rig/cli.ts';
import { type ClusterRig, startCluster } from '../rig/cluster.ts';
import { logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { freePort, sleep } from '../rig/proc.ts';
import { metricValue, waitFor } from '../rig/serve.ts';
import { startAll } from '../rig/start-all.ts';

let rig: ClusterRig;
let mlflow: MlflowRig;
let client: MlflowClient;
let kubeconfig: string;
const NS = 'ml-builds';
const JOB = {
  namespace: NS,
  image: '127.0.0.1:5000/kiln@sha256:' + 'e'.repeat(64),
  serviceAccount: 'kiln-promoter',
  envFromSecrets: ['kiln-mlflow'],
  registrySecret: 'kiln-registry',
  signingKeySecret: 'kiln-signing-key',
};
const DIGEST = `sha256:${'7'.repeat(64)}`;

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects
type Obj = any;

before(async () => {
  ({ rig, mlflow } = await startAll({ rig: startCluster(), mlflow: startMlflow() }));
  console.log(`cluster rig ready in ${rig.startupMs} ms ${JSON.stringify(rig.phases)}`);
  await logModels(mlflow, [
    { name: 'risk' },
    { name: 'risk' },
    { name: 'risk' },
    { name: 'fraud', alias: 'champion' },
  ]);
  client = new MlflowClient({ trackingUri: mlflow.url });
  await rig.api('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  for (const sa of ['kiln', 'kiln-promoter']) {
    await rig.api('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: sa } });
  }
  // What kiln serve needs for the Job executor, and nothing more (deploy/ grants the same).
  await rig.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
    metadata: { name: 'kiln-jobs' },
    rules: [
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'create', 'delete'] },
      { apiGroups: ['batch'], resources: ['jobs/status'], verbs: ['get'] },
    ],
  });
  await rig.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
    metadata: { name: 'kiln-jobs' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kiln-jobs' },
    subjects: [{ kind: 'ServiceAccount', name: 'kiln', namespace: NS }],
  });
  kubeconfig = join(rig.dir, 'kiln-sa.kubeconfig');
  await rig.serviceAccountKubeconfig(NS, 'kiln', kubeconfig);
});
after(async () => {
  await Promise.all([rig?.stop(), mlflow?.stop()]);
});

const promoter = () =>
  jobPromoter({ job: JOB, mlflow: client, env: { KUBECONFIG: kubeconfig }, pollMs: 100 });

async function until<T>(what: string, read: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await read().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`${what}: not seen within ${ms} ms`);
}

const getJob = async (version: string, model = 'risk'): Promise<Obj | undefined> => {
  const res = await rig.api(
    'GET',
    `/apis/batch/v1/namespaces/${NS}/jobs/${jobName(model, version)}`,
    undefined,
    [200, 404],
  );
  return res.status === 200 ? res.json : undefined;
};

/** Pods the Job controller created for the Job, oldest first. */
const podsOf = async (version: string, model = 'risk'): Promise<Obj[]> =>
  (
    await rig.api(
      'GET',
      `/api/v1/namespaces/${NS}/pods?labelSelector=batch.kubernetes.io/job-name=${jobName(model, version)}`,
    )
  ).json.items;

/** Stand in for the kubelet: the pod's container ran and exited with `exitCode`. */
async function finishPod(pod: Obj, exitCode: number): Promise<void> {
  const now = new Date().toISOString();
  pod.status = {
    phase: exitCode === 0 ? 'Succeeded' : 'Failed',
    startTime: now,
    containerStatuses: [
      {
        name: 'promote',
        image: JOB.image,
        imageID: '',
        ready: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? 'Completed' : 'Error',
            startedAt: now,
            finishedAt: now,
          },
        },
      },
    ],
  };
  await rig.api('PUT', `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/status`, pod);
}

test('the Job carries the image, arguments, secrets by reference and service account; its success is the promotion result', async () => {
  const pending = promoter()({ name: 'risk', version: '1' });
  pending.catch(() => {}); // awaited below
  const job = await until('the promotion Job', () => getJob('1'));
  const pod = job.spec.template.spec;
  assert.equal(pod.serviceAccountName, 'kiln-promoter');
  assert.equal(pod.containers[0].image, JOB.image);
  assert.deepEqual(pod.containers[0].args, ['promote', 'models:/risk/1', '--json']);
  assert.deepEqual(pod.containers[0].envFrom, [{ secretRef: { name: 'kiln-mlflow' } }]);
  assert.deepEqual(
    pod.volumes.map((v: Obj) => v.secret?.secretName),
    ['kiln-registry', 'kiln-signing-key'],
  );
  // No secret value anywhere in the Job: only names.
  assert.doesNotMatch(JSON.stringify(job), /password|token|BEGIN/i);
  // kube-controller-manager's Job controller created the pod from it.
  const [created] = await until('a pod for the Job', async () =>
    (await podsOf('1')).length ? podsOf('1') : undefined,
  );
  assert.equal(created.spec.serviceAccountName, 'kiln-promoter');
  assert.equal(created.spec.containers[0].image, JOB.image);
  // What `kiln promote` in the pod writes, then the pod exits 0.
  await setModelVersionTag(client, 'risk', '1', 'kiln.digest', DIGEST);
  await setModelVersionTag(client, 'risk', '1', 'kiln.image', `127.0.0.1:5000/ml/risk@${DIGEST}`);
  await finishPod(created, 0);
  const result = await pending;
  assert.equal(result.digest, DIGEST);
  assert.equal(result.version, '1');
  const done = await getJob('1');
  assert.ok(done.status.conditions.some((c: Obj) => c.type === 'Complete' && c.status === 'True'));
});

test("a Job whose pods keep failing fails the promotion with JOB_FAILED, after the Job's own retries", async () => {
  const pending = promoter()({ name: 'risk', version: '2' });
  // backoffLimit 2: the Job controller starts a new pod after each failure (10 s, then 20 s backoff).
  const failed = new Set<string>();
  const deadline = Date.now() + 90_000;
  let outcome: unknown;
  pending.then(
    () => {
      outcome = 'resolved';
    },
    (e: unknown) => {
      outcome = e;
    },
  );
  while (outcome === undefined && Date.now() < deadline) {
    for (const p of await podsOf('2')) {
      if (!failed.has(p.metadata.name) && !p.status?.phase?.match(/Failed|Succeeded/)) {
        await finishPod(p, 1);
        failed.add(p.metadata.name);
      }
    }
    await sleep(200);
  }
  assert.ok(isKilnError(outcome, 'JOB_FAILED'), String(outcome));
  assert.match((outcome as Error).message, /BackoffLimitExceeded/);
  assert.equal(failed.size, 3);
});

test('a restarted kiln serve adopts the Job its predecessor created instead of starting another', async () => {
  const stopping = new AbortController();
  const first = promoter()({ name: 'risk', version: '3', signal: stopping.signal });
  first.catch(() => {});
  const job = await until('the promotion Job', () => getJob('3'));
  stopping.abort(new Error('kiln serve stopped'));
  await assert.rejects(first);
  // The "restarted" server: a new executor, same settings.
  const second = promoter()({ name: 'risk', version: '3' });
  second.catch(() => {});
  const [pod] = await until('a pod for the Job', async () =>
    (await podsOf('3')).length ? podsOf('3') : undefined,
  );
  await setModelVersionTag(client, 'risk', '3', 'kiln.digest', DIGEST);
  await setModelVersionTag(client, 'risk', '3', 'kiln.image', `127.0.0.1:5000/ml/risk@${DIGEST}`);
  await finishPod(pod, 0);
  assert.equal((await second).digest, DIGEST);
  assert.equal((await getJob('3')).metadata.uid, job.metadata.uid, 'the same Job, adopted');
  assert.equal((await podsOf('3')).length, 1, 'one pod: nothing ran twice');
});

test('a kiln serve process killed -9 while its Job runs adopts that Job when it starts again', async () => {
  const port = await freePort();
  const config = {
    models: [{ name: 'fraud', alias: 'champion' }],
    server: {
      listen: `127.0.0.1:${port}`,
      reconcileInterval: 1,
      stateDir: join(rig.dir, 'serve-state'),
      executor: 'job',
      job: JOB,
    },
  };
  const file = join(rig.dir, 'kiln.yaml');
  await writeFile(file, stringify(config));
  const env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, KUBECONFIG: kubeconfig });
  const logs: string[] = [];
  const start = (): ChildProcess => {
    const log = join(rig.dir, `serve-${logs.length}.log`);
    logs.push(log);
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [KILN_MAIN, 'serve', '--config', file, '--no-webhook'], {
      env,
      stdio: ['ignore', 'ignore', fd],
    });
    closeSync(fd);
    return child;
  };
  const stopped = (p: ChildProcess) =>
    new Promise((r) => (p.exitCode !== null ? r(undefined) : p.once('exit', r)));
  const serveLogs = async () =>
    (await Promise.all(logs.map((f) => readFile(f, 'utf8').catch(() => '')))).join('\n---\n').slice(-4000);
  let serve = start();
  try {
    // The reconciler sees fraud@champion -> version 1 and hands it to a Job.
    const job = await waitFor('the Job of the first kiln serve', () => getJob('1', 'fraud'), 60_000);
    serve.kill('SIGKILL');
    await stopped(serve);
    serve = start();
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      'the restarted kiln serve',
      async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok,
      60_000,
    );
    const [pod] = await waitFor('a pod for the Job', async () => {
      const pods = await podsOf('1', 'fraud');
      return pods.length ? pods : undefined;
    });
    await setModelVersionTag(client, 'fraud', '1', 'kiln.digest', DIGEST);
    await setModelVersionTag(client, 'fraud', '1', 'kiln.image', `127.0.0.1:5000/ml/fraud@${DIGEST}`);
    await finishPod(pod, 0);
    // The executor polls the Job every 5 s; the promotion is recorded as succeeded.
    await waitFor(
      'a succeeded promotion in the restarted server',
      async () =>
        metricValue(
          await (await fetch(`${url}/metrics`)).text(),
          'kiln_promotions_total{result="succeeded"}',
        ) === 1,
      60_000,
    ).catch(async (e: Error) => assert.fail(`${e.message}\n${await serveLogs()}`));
    assert.equal((await getJob('1', 'fraud')).metadata.uid, job.metadata.uid, 'the same Job, adopted');
    assert.equal((await podsOf('1', 'fraud')).length, 1, 'one pod: nothing ran twice');
  } finally {
    serve.kill('SIGTERM');
    await stopped(serve);
  }
});
