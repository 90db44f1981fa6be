// kiln serve's analysis loop: started by a succeeded promotion, recorded in the server's SQLite
// tables, resumed after a restart from the recorded step (each step taken once), and superseded by
// a newer version. Real Kubernetes API (KServe's CRD) and real Prometheus; the model servers behind
// the queue-proxy stand-ins are small Node servers here (the real sklearn runtime is exercised by
// analysis.test.ts), KServe's controller and Knative's router by test/rig/knative-router.ts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.ts';
import type { Kube } from '../../src/kserve/client.ts';
import { openKube } from '../../src/kserve/client.ts';
import { deployInferenceService } from '../../src/kserve/deploy.ts';
import type { PromoteResult } from '../../src/pipeline/promote-types.ts';
import { AnalysisLoop } from '../../src/server/analysis-loop.ts';
import { AnalysisStore } from '../../src/server/analysis-store.ts';
import { Registry } from '../../src/server/metrics.ts';
import { fakeKserve, type RevisionEndpoint } from '../rig/knative-router.ts';
import { getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { tempDir } from '../rig/proc.ts';
import { type PrometheusRig, startPrometheus } from '../rig/prometheus.ts';
import { type QueueProxy, startQueueProxy } from '../rig/queue-proxy.ts';

let kube: KubeRig;
let prom: PrometheusRig;
let work: { path: string; remove: () => Promise<void> };
let k: Kube;
const servers: Server[] = [];
const proxies: QueueProxy[] = [];

before(async () => {
  const up = await Promise.allSettled([
    startKube().then((r) => {
      kube = r;
    }),
    startPrometheus().then((r) => {
      prom = r;
    }),
    tempDir('analysis-serve').then((r) => {
      work = r;
    }),
  ]);
  for (const r of up) if (r.status === 'rejected') throw r.reason;
  k = await openKube({ env: { ...process.env, KUBECONFIG: kube.kubeconfigPath } });
});

after(async () => {
  for (const s of servers) s.close();
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all([kube?.stop(), prom?.stop()]);
  await work?.remove();
});

async function upstream(): Promise<string> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"predictions":[1]}'),
    );
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const image = (c: string) => `127.0.0.1:5000/ml/iris@sha256:${c.repeat(64)}`;
const ns = 'serve';
const ref = { namespace: ns, name: 'iris' };

function loopFor(store: AnalysisStore): AnalysisLoop {
  const config = ConfigSchema.parse({
    models: [{ name: 'iris', deploy: { inferenceService: `${ns}/iris`, canary: 0 } }],
    rollout: {
      steps: [25, 50],
      interval: 4,
      minRequests: 10,
      scrapeInterval: 1,
      warmup: 1,
      inconclusiveLimit: 5,
      agreement: { enabled: false },
      prometheus: { url: prom.url },
      checks: [{ type: 'success-rate' }],
    },
  });
  const m = new Registry();
  return new AnalysisLoop({
    config,
    store,
    mlflow: {} as never,
    env: process.env,
    metrics: {
      decisions: m.counter('d', 'd'),
      checks: m.counter('c', 'c'),
      tickSeconds: m.histogram('t', 't', [1]),
    },
    pollMs: 200,
    openKube: async () => k,
  });
}

const promoted = (version: string, c: string): PromoteResult => ({
  name: 'iris',
  version,
  digest: `sha256:${c.repeat(64)}` as never,
  reference: image(c),
  signed: false,
  deployedTo: `${ns}/iris`,
  reused: false,
  bytesPushed: 0,
  durationMs: 1,
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('kiln serve analyses a promoted canary, resumes it after a restart at the recorded step, and a newer version supersedes it', async () => {
  const endpoints = new Map<string, RevisionEndpoint>();
  for (const c of ['1', '2', '3']) {
    const qp = await startQueueProxy(await upstream());
    proxies.push(qp);
    endpoints.set(image(c), { url: qp.url });
  }
  await prom.setTargets(
    proxies.map((qp, i) => ({
      address: qp.metricsAddress,
      namespace: ns,
      revision: `iris-predictor-0000${i + 1}`,
      container: 'queue-proxy',
    })),
  );
  const file = join(work.path, 'kiln-state.db');
  await deployInferenceService(k, {
    ...ref,
    image: image('1'),
    mode: 'baked',
    model: { name: 'iris', version: '1' },
  });
  const fake = fakeKserve(kube, ns, 'iris', endpoints, () => [1, 2, 3, 4], 40);
  try {
    await until(
      'v1 rolled out',
      async () => (await getIsvc(kube, ns, 'iris')).status?.observedGeneration === 1,
    );
    // What the promotion did: version 2 deployed as a 0% canary, then reported success.
    await deployInferenceService(k, {
      ...ref,
      image: image('2'),
      mode: 'baked',
      canaryPercent: 0,
      model: { name: 'iris', version: '2' },
    });
    let store = new AnalysisStore(file);
    let loop = loopFor(store);
    loop.start();
    loop.promoted(11, promoted('2', '2'));
    const run = await until('the analysis to start', () => store.live()[0]);
    assert.equal(run.version, '2');
    assert.equal(run.promotionId, 11);
    // first step judged and applied: 25% -> 50%
    await until('the first step to pass', () => store.decisions(run.id).some((d) => d.action === 'advance'));
    await loop.stop(); // "kill": the loop stops between two turns; its store is closed
    store.close();
    assert.equal((await getIsvc(kube, ns, 'iris')).spec.predictor.canaryTrafficPercent, 50);

    store = new AnalysisStore(file); // restart on the same state file
    const resumed = store.live()[0];
    assert.equal(resumed?.id, run.id);
    assert.equal(resumed?.state.stepIndex, 1);
    loop = loopFor(store);
    loop.start();
    const done = await until('the analysis to finish', () => {
      const r = store.get(run.id);
      return r && r.status !== 'running' ? r : undefined;
    });
    assert.equal(done.status, 'promoted');
    const actions = store
      .decisions(run.id)
      .map((d) => d.action)
      .filter((a) => a !== 'hold');
    assert.deepEqual(actions, ['advance', 'promote'], 'each step taken exactly once across the restart');
    assert.equal((await getIsvc(kube, ns, 'iris')).spec.predictor.canaryTrafficPercent, undefined);

    // a newer version while an analysis runs: the running one is superseded, the new one starts
    await deployInferenceService(k, {
      ...ref,
      image: image('3'),
      mode: 'baked',
      canaryPercent: 0,
      model: { name: 'iris', version: '3' },
    });
    loop.promoted(12, promoted('3', '3'));
    const third = await until('version 3 analysis', () => store.live().find((r) => r.version === '3'));
    await deployInferenceService(k, {
      ...ref,
      image: image('1'),
      mode: 'baked',
      canaryPercent: 0,
      model: { name: 'iris', version: '1' },
    });
    loop.promoted(13, promoted('1', '1'));
    await until('version 3 superseded', () => store.get(third.id)?.status === 'superseded');
    assert.equal(store.live().length, 1);
    assert.equal(store.snapshot().recent.length, 2);
    await loop.stop();
    store.close();
  } finally {
    await fake.stop();
  }
});
