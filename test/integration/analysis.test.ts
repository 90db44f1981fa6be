// Canary analysis end to end on real parts: versions logged in a real MLflow, baked onto the
// locally built sklearn KServe runtime, pushed to a real registry, served by containerd (one
// primary, one canary per scenario), each behind a queue-proxy stand-in that exports Knative's
// per-revision metrics; a real Prometheus scrapes them with the revision label attached by
// relabeling; the InferenceService lives on a real Kubernetes API with KServe's CRD, its status
// written the way KServe's controller writes it; a load driver splits requests by the current
// canaryTrafficPercent (Knative's router). `kiln rollout watch` must promote an A/A canary and
// abort an erroring, a slow and a differently-answering one.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kilnEnv, kilnInProcess } from '../rig/cli.ts';
import { type ContainerdRig, type RunningContainer, startContainerd } from '../rig/containerd.ts';
import { pushSklearnRuntime } from '../rig/images.ts';
import { type FakeKserve, fakeKserve, type RevisionEndpoint } from '../rig/knative-router.ts';
import { getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { freePort, tempDir } from '../rig/proc.ts';
import { type PrometheusRig, type ScrapeTarget, startPrometheus } from '../rig/prometheus.ts';
import { type QueueProxy, startQueueProxy } from '../rig/queue-proxy.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { waitModelReady } from '../rig/serving.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let ctrd: ContainerdRig;
let kube: KubeRig;
let prom: PrometheusRig;
let work: { path: string; remove: () => Promise<void> };
const containers: RunningContainer[] = [];
const proxies: QueueProxy[] = [];
const targets: ScrapeTarget[] = [];
/** version -> image reference */
const images = new Map<string, string>();
/** version -> model server URL (one container per version, shared by the scenarios) */
const servers = new Map<string, { url: string; metrics: string }>();

const NAME = 'iris'; // the InferenceService and V1 model name in every namespace
const VERSIONS = { primary: '1', same: '2', flaky: '3', slow: '4', other: '5' } as const;

before(async () => {
  // Each rig is kept as soon as it is up, so after() stops it even when another one failed to start
  // (the failure is then reported at once instead of leaving services running).
  const up = await Promise.allSettled([
    startMlflow().then((r) => {
      mlflow = r;
    }),
    startRegistry().then((r) => {
      registry = r;
    }),
    startContainerd().then((r) => {
      ctrd = r;
    }),
    startKube().then((r) => {
      kube = r;
    }),
    startPrometheus().then((r) => {
      prom = r;
    }),
    tempDir('analysis').then((r) => {
      work = r;
    }),
  ]);
  for (const r of up) if (r.status === 'rejected') throw r.reason;
  const [runtime] = await Promise.all([
    pushSklearnRuntime(registry),
    logModels(mlflow, [
      { name: NAME, alias: 'champion', inputExample: true },
      { name: NAME, inputExample: true },
      { name: NAME, inputExample: true, variant: 'flaky' },
      { name: NAME, inputExample: true, variant: 'slow' },
      { name: NAME, inputExample: true, variant: 'other' },
    ]),
  ]);
  const env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url });
  for (const v of Object.values(VERSIONS)) {
    const r = await kilnInProcess(
      // The bad canaries wrap the model in classes cloudpickle pickles by value: code the model
      // security gate rightly blocks (EMBEDDED_CODE). Here they are the point, so the gate warns.
      [
        'bake',
        `models:/${NAME}/${v}`,
        '--to',
        `${registry.host}/ml/${NAME}`,
        '--base',
        runtime.ref,
        '--scan',
        'warn',
      ],
      { env, cwd: work.path },
    );
    assert.equal(r.code, 0, r.stderr);
    images.set(v, r.stdout.trim());
  }
  await Promise.all(
    Object.values(VERSIONS).map(async (v) => {
      const ref = images.get(v) as string;
      await ctrd.pull(ref);
      const [http, grpc] = [await freePort(), await freePort()];
      const c = await ctrd.runDetached(ref, `iris-v${v}`, undefined, {
        args: [
          '--model_dir=/mnt/models',
          `--model_name=${NAME}`,
          `--http_port=${http}`,
          `--grpc_port=${grpc}`,
        ],
      });
      containers.push(c);
      const url = `http://127.0.0.1:${http}`;
      await waitModelReady(`${url}/v1/models/${NAME}`, c);
      servers.set(v, { url, metrics: `127.0.0.1:${http}` });
    }),
  );
});

after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(containers.map((c) => c.stop()));
  await Promise.all([mlflow?.stop(), registry?.stop(), ctrd?.stop(), kube?.stop(), prom?.stop()]);
  await work?.remove();
});

/** A random iris-like row; sepal length spans 4.5-7.9, so ~26% of rows make the flaky model fail. */
const row = () => [
  4.5 + Math.random() * 3.4,
  2 + Math.random() * 2.4,
  1 + Math.random() * 5.9,
  0.1 + Math.random() * 2.4,
];

async function config(ns: string): Promise<string> {
  const dir = join(work.path, ns);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'kiln.yaml'),
    `models:
  - name: ${NAME}
    rollout:
      steps: [25, 50]
      interval: 8
      minRequests: 20
      scrapeInterval: 1
      warmup: 2
      inconclusiveLimit: 4
      onAbort: { moveAliasBack: true }
      prometheus: { url: ${prom.url} }
      checks:
        - { type: success-rate }
        - { type: latency, maxIncrease: 1.5 }
        # the model server's own histogram, told apart by the relabeled revision label
        - type: query
          name: predict-p99
          query: histogram_quantile(0.99, sum by (le) (rate(request_predict_seconds_bucket{k8s_namespace_name="{{namespace}}",kn_revision_name="{{revision}}"}[{{interval}}])))
          max: 1
`,
  );
  return dir;
}

/** One namespace per scenario: primary v1 rolled out, then `canary` deployed at 0% and watched. */
async function scenario(ns: string, canary: string) {
  const cwd = await config(ns);
  const env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, KUBECONFIG: kube.kubeconfigPath });
  const endpoints = new Map<string, RevisionEndpoint>();
  for (const [i, v] of [VERSIONS.primary, canary].entries()) {
    const server = servers.get(v)!;
    const qp = await startQueueProxy(server.url);
    proxies.push(qp);
    endpoints.set(images.get(v)!, { url: qp.url });
    const revision = `${NAME}-predictor-${String(i + 1).padStart(5, '0')}`;
    targets.push(
      { address: qp.metricsAddress, namespace: ns, revision, container: 'queue-proxy' },
      { address: server.metrics, namespace: ns, revision, container: 'kserve-container' },
    );
  }
  await prom.setTargets(targets);
  const kiln = (...argv: string[]) => kilnInProcess(argv, { env, cwd });
  const model = (v: string) => ['--model-name', NAME, '--model-version', v];
  const first = await kiln(
    'deploy',
    `${ns}/${NAME}`,
    '--image',
    images.get(VERSIONS.primary)!,
    ...model(VERSIONS.primary),
  );
  assert.equal(first.code, 0, first.stderr);
  const fake: FakeKserve = fakeKserve(kube, ns, NAME, endpoints, row, 40);
  try {
    await until(async () => (await getIsvc(kube, ns, NAME)).status?.observedGeneration === 1);
    const dep = await kiln(
      'deploy',
      `${ns}/${NAME}`,
      '--image',
      images.get(canary)!,
      '--canary',
      '0',
      ...model(canary),
    );
    assert.equal(dep.code, 0, dep.stderr);
    await until(async () => (await getIsvc(kube, ns, NAME)).status?.observedGeneration === 2);
    const watch = await kiln('--json', 'rollout', 'watch', `${ns}/${NAME}`);
    const isvc = await getIsvc(kube, ns, NAME);
    return { watch, isvc, fake, out: JSON.parse(watch.stdout) };
  } finally {
    await fake.stop();
  }
}

async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('A/A: the same model as canary passes agreement and every step, and is promoted', async () => {
  const { watch, isvc, out } = await scenario('aa', VERSIONS.same);
  assert.equal(watch.code, 0, watch.stderr);
  assert.equal(out.phase, 'promoted');
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, undefined);
  assert.deepEqual(
    out.decisions.map((d: { action: string }) => d.action).filter((a: string) => a !== 'hold'),
    ['advance', 'advance', 'promote'],
  );
  const agreement = out.decisions[0].checks[0];
  assert.equal(agreement.check, 'prediction-agreement');
  assert.match(agreement.reason, /3\/3 predictions agree/);
  // every metric check ran its real PromQL and kept the evidence
  const last = out.decisions.at(-1);
  for (const c of last.checks) assert.equal(c.verdict, 'pass', JSON.stringify(c));
  assert.match(
    last.checks[0].queries[0],
    /kn_serving_invocation_duration_seconds_count\{k8s_namespace_name="aa",kn_revision_name="iris-predictor-00002"\}/,
  );
  assert.ok(last.checks[0].values.canary.total >= 20);
  assert.match(watch.stderr, /step 1\/2 \(25%\): pass -> advance/);
  // what a person sees afterwards: the analysis on kiln status, the outcome on the MLflow version
  const env = kilnEnv({ KUBECONFIG: kube.kubeconfigPath });
  const status = await kilnInProcess(['status', `aa/${NAME}`], { env, cwd: work.path });
  assert.match(status.stdout, /analysis: promoted, step 2\/2/);
  assert.match(status.stdout, /PASS\s+success-rate: canary failed 0\//);
  assert.equal((await versionTags(VERSIONS.same))['kiln.rollout'], 'promoted');
});

async function versionTags(version: string): Promise<Record<string, string>> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${NAME}&version=${version}`);
  const mv = ((await res.json()) as { model_version: { tags?: Array<{ key: string; value: string }> } })
    .model_version;
  return Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value]));
}

async function aliasVersion(): Promise<string> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/registered-models/alias?name=${NAME}&alias=champion`);
  return ((await res.json()) as { model_version: { version: string } }).model_version.version;
}

test('a canary that answers errors is aborted at its first step by the success-rate check', async () => {
  await setAlias(mlflow, NAME, 'champion', VERSIONS.flaky); // the alias move that promoted it
  const { watch, isvc, out } = await scenario('flaky', VERSIONS.flaky);
  assert.equal(watch.code, 3, watch.stderr);
  assert.equal(out.error.code, 'ROLLOUT_ABORTED');
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 0);
  const decisions = out.error.details.decisions;
  const abort = decisions.at(-1);
  assert.equal(abort.action, 'abort');
  assert.equal(abort.step, 0);
  const sr = abort.checks.find((c: { check: string }) => c.check === 'success-rate');
  assert.equal(sr.verdict, 'fail');
  assert.equal(sr.test.name, 'fisher-exact');
  assert.ok(sr.test.p < 0.01);
  // MLflow: the failed version is tagged with the reason, the alias is back on the serving version
  const tags = await versionTags(VERSIONS.flaky);
  assert.equal(tags['kiln.rollout'], 'aborted');
  assert.match(tags['kiln.rollout.reason'] ?? '', /success-rate/);
  assert.equal(await aliasVersion(), VERSIONS.primary);
});

test('a slow canary is aborted by Mann-Whitney on latency', async () => {
  const { watch, isvc, out } = await scenario('slow', VERSIONS.slow);
  assert.equal(watch.code, 3, `${watch.stderr}\n${watch.stdout}`);
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 0);
  const abort = out.error.details.decisions.at(-1);
  const lat = abort.checks.find((c: { check: string }) => c.check === 'latency-p99');
  assert.equal(lat.verdict, 'fail', JSON.stringify(abort.checks));
  assert.equal(lat.test.name, 'mann-whitney-u');
  assert.ok(lat.test.effect >= 1.5);
});

test('a model answering differently is aborted by prediction agreement before any traffic moves', async () => {
  const { watch, isvc, out, fake } = await scenario('other', VERSIONS.other);
  assert.equal(watch.code, 3, watch.stderr);
  const decisions = out.error.details.decisions;
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0].step, -1);
  assert.match(decisions[0].checks[0].reason, /0\/3 predictions agree/);
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 0);
  assert.equal(fake.sent.get(`${NAME}-predictor-00002`), undefined, 'the canary got no user traffic');
});
