import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import { logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { tempDir } from '../rig/proc.ts';
import {
  createWebhook,
  metricValue,
  mlflowWebhookEnv,
  type Recorder,
  recordingPromoter,
  waitFor,
} from '../rig/serve.ts';

// kiln serve against a REAL MLflow: MLflow's own webhook (signed with the shared secret) calls
// kiln serve when an alias moves, and kiln serve calls its Promoter. A second server with
// webhooks off shows the reconciler alone promoting within one interval.

const SECRET = 'kiln-test-webhook-secret';
let rig: MlflowRig;
let hooked: RunningServer;
let hookedCalls: Recorder;
let polling: RunningServer;
let pollingCalls: Recorder;
const POLL_INTERVAL_S = 2;
const dirs: Array<{ remove: () => Promise<void> }> = [];

function config(stateDir: string, model: string, reconcileInterval: number) {
  return ConfigSchema.parse({
    models: [{ name: model }],
    server: { listen: '127.0.0.1:0', stateDir, reconcileInterval, maxSkew: 300 },
  });
}

async function get(server: RunningServer, path: string) {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, text: await res.text() };
}

before(async () => {
  rig = await startMlflow({ env: mlflowWebhookEnv() });
  await logModels(rig, [{ name: 'iris' }, { name: 'iris' }, { name: 'iris' }, { name: 'polled' }]);
  const d1 = await tempDir('serve-hook');
  const d2 = await tempDir('serve-poll');
  dirs.push(d1, d2);
  hookedCalls = recordingPromoter(200);
  hooked = await startServer({
    config: config(d1.path, 'iris', 3600), // only the start-up reconcile: promotions come from webhooks
    promoter: hookedCalls.promoter,
    webhookSecret: SECRET,
    mlflow: { trackingUri: rig.url },
  });
  await createWebhook(rig, `${hooked.url}/webhooks/mlflow`, SECRET);
  pollingCalls = recordingPromoter();
  polling = await startServer({
    config: config(d2.path, 'polled', POLL_INTERVAL_S),
    promoter: pollingCalls.promoter,
    webhookSecret: undefined,
    mlflow: { trackingUri: rig.url },
  });
});

after(async () => {
  await hooked?.stop();
  await polling?.stop();
  await rig?.stop();
  for (const d of dirs) await d.remove();
});

describe('kiln serve with a real MLflow', () => {
  test('is ready once the start-up reconcile reached MLflow (the alias is not set yet: an answer)', async () => {
    assert.equal((await get(hooked, '/healthz')).status, 200);
    const ready = await waitFor('readyz 200', async () => (await get(hooked, '/readyz')).status === 200);
    assert.equal(ready, true);
    assert.match((await get(hooked, '/readyz')).text, /"mlflow":"reachable"/);
  });

  test("moving @champion makes MLflow's signed webhook reach kiln serve, which promotes that version", async () => {
    const t0 = performance.now();
    await setAlias(rig, 'iris', 'champion', '1');
    await waitFor('a promotion of iris/1', () => hookedCalls.calls.length >= 1);
    const ms = performance.now() - t0;
    console.log(`alias move -> Promoter called: ${ms.toFixed(0)} ms`);
    assert.deepEqual(
      hookedCalls.calls.map((c) => [c.name, c.version]),
      [['iris', '1']],
    );
    await hooked.queue.idle();
    const [row] = hooked.store.history('iris');
    assert.equal(row?.status, 'succeeded');
    assert.equal(row?.source, 'webhook');
    assert.match(row?.deliveryId ?? '', /^[0-9a-f-]{36}$/);
    const metrics = (await get(hooked, '/metrics')).text;
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="accepted"}'), 1);
    assert.equal(metricValue(metrics, 'kiln_promotions_total{result="succeeded"}'), 1);
    assert.equal(metricValue(metrics, 'kiln_promotion_duration_seconds_count'), 1);
  });

  test('the next move promotes the next version; setting the same version again starts nothing', async () => {
    await setAlias(rig, 'iris', 'champion', '2');
    await waitFor('a promotion of iris/2', () => hookedCalls.calls.length >= 2);
    await hooked.queue.idle();
    await setAlias(rig, 'iris', 'champion', '2'); // MLflow fires again with a new delivery id
    await waitFor('the third delivery', () => hooked.metrics.deliveries.get({ verdict: 'accepted' }) >= 3);
    await hooked.queue.idle();
    assert.deepEqual(
      hookedCalls.calls.map((c) => c.version),
      ['1', '2'],
    );
  });

  test('a move of a model kiln does not watch is refused with 422 (MLflow sends every model)', async () => {
    await setAlias(rig, 'polled', 'challenger', '1');
    await waitFor('an unwatched verdict', () => hooked.metrics.deliveries.get({ verdict: 'unwatched' }) >= 1);
    assert.equal(hooked.metrics.deliveries.get({ verdict: 'forged' }), 0);
  });

  test('with webhooks off, the reconciler alone promotes a moved alias within one interval', async () => {
    const res = await fetch(`${polling.url}/webhooks/mlflow`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /disabled/);
    const t0 = performance.now();
    await setAlias(rig, 'polled', 'champion', '1');
    await waitFor('the reconciler to promote polled/1', () => pollingCalls.calls.length >= 1, 15_000);
    const ms = performance.now() - t0;
    console.log(`alias move -> reconciler promotion: ${ms.toFixed(0)} ms (interval ${POLL_INTERVAL_S} s)`);
    assert.ok(ms < POLL_INTERVAL_S * 1000 + 1500, `took ${ms} ms`);
    assert.deepEqual(
      pollingCalls.calls.map((c) => [c.name, c.version]),
      [['polled', '1']],
    );
    await polling.queue.idle();
    assert.equal(polling.store.history('polled')[0]?.source, 'reconcile');
    // later passes find the alias settled and start nothing more
    const passes = async () => polling.reconciler.last?.finishedAt ?? 0;
    const seen = await passes();
    await waitFor('two more reconcile passes', async () => (await passes()) > seen + POLL_INTERVAL_S * 1000);
    assert.equal(pollingCalls.calls.length, 1);
  });

  test('/readyz turns 503 when MLflow stops answering', async () => {
    await rig.service.stop();
    const text = await waitFor(
      'readyz 503',
      async () => {
        const r = await get(polling, '/readyz');
        return r.status === 503 ? r.text : undefined;
      },
      30_000,
    );
    assert.match(text, /"mlflow":"unreachable"/);
    assert.equal((await get(polling, '/healthz')).status, 200);
  });
});
