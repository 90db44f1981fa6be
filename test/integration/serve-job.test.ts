import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { MlflowClient } from '../../src/mlflow/index.ts';
import { jobPromoter } from '../../src/server/executor-job.ts';
import { kilnMetrics } from '../../src/server/kiln-metrics.ts';
import { PromotionQueue } from '../../src/server/queue.ts';
import { StateStore } from '../../src/server/state.ts';
import { type KubeRig, startKube } from '../rig/kube.ts';
import { freePort, tempDir } from '../rig/proc.ts';

// `--executor job` against a real Kubernetes API server. The test rig is etcd +
// apiextensions-apiserver, which serves CRDs but NOT batch/v1: so what is checked here is that
// the executor really talks to the API server and turns "no Jobs API" and "no API server" into
// clear failed promotions. Creating, watching and adopting real Jobs needs a full cluster
// (the manifest itself is checked in test/unit/server-job.test.ts).

let kube: KubeRig;
let dir: { path: string; remove: () => Promise<void> };

before(async () => {
  kube = await startKube();
  dir = await tempDir('serve-job');
});

after(async () => {
  await kube?.stop();
  await dir?.remove();
});

const job = { namespace: 'ml-builds', image: 'registry.example.com/kiln:test' };
const mlflow = new MlflowClient({ trackingUri: 'http://127.0.0.1:1', retry: { attempts: 1 } });

describe('Job executor', () => {
  test('an API server without batch/v1 fails the promotion with KUBE_JOB_API_MISSING', async () => {
    const promote = jobPromoter({ job, mlflow, env: { KUBECONFIG: kube.kubeconfigPath }, pollMs: 100 });
    await assert.rejects(promote({ name: 'risk', version: '3' }), (e: unknown) => {
      assert.ok(isKilnError(e, 'KUBE_JOB_API_MISSING'), String(e));
      assert.match(e.message, /create Job ml-builds\/kiln-risk-v3-[0-9a-f]{8} on https:\/\/127\.0\.0\.1:\d+/);
      assert.match(e.message, /does not serve batch\/v1 Jobs/);
      return true;
    });
  });

  test('an unreachable API server fails with KUBE_UNREACHABLE', async () => {
    const cfg = join(dir.path, 'down.kubeconfig');
    await kube.writeKubeconfig(cfg, `https://127.0.0.1:${await freePort()}`);
    const promote = jobPromoter({ job, mlflow, env: { KUBECONFIG: cfg }, pollMs: 100 });
    await assert.rejects(promote({ name: 'risk', version: '3' }), (e: unknown) =>
      isKilnError(e, 'KUBE_UNREACHABLE'),
    );
  });

  test('through the queue, the failure is recorded in the history with its code', async () => {
    const store = StateStore.open(dir.path);
    const metrics = kilnMetrics({ queueDepth: () => 0, running: () => 0 });
    const queue = new PromotionQueue({
      store,
      metrics,
      concurrency: 8,
      promoter: jobPromoter({ job, mlflow, env: { KUBECONFIG: kube.kubeconfigPath }, pollMs: 100 }),
    });
    queue.start();
    queue.offer({ name: 'risk', version: '4', eventAtUs: 1, source: 'reconcile' });
    await queue.idle();
    const [row] = store.history('risk');
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /^KUBE_JOB_API_MISSING: /);
    assert.equal(metrics.promotions.get({ result: 'failed' }), 1);
    store.close();
  });
});
