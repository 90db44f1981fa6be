import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.ts';
import type { Promoter } from '../../src/pipeline/promote-types.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import { signatureHeader } from '../../src/server/webhook-verify.ts';
import { freePort, tempDir } from '../rig/proc.ts';
import {
  type Delivery,
  metricValue,
  postDelivery,
  type Recorder,
  recordingPromoter,
  signedDelivery,
} from '../rig/serve.ts';

// The webhook endpoint of a real kiln serve on loopback, driven by deliveries this test signs
// with the shared secret exactly as MLflow does: a 200-delivery storm with duplicates and
// out-of-order alias moves, then forged, replayed and stale deliveries, then every refusal class.
// MLflow itself is not needed here (serve-webhook.test.ts has the real one); the reconciler is
// pointed at a closed port and never offers anything.

const SECRET = 'storm-secret';
const MODELS = Array.from({ length: 20 }, (_, i) => `model-${String(i).padStart(2, '0')}`);
let server: RunningServer;
let rec: Recorder;
/** The promoter the server calls; a test may swap it. */
let impl: Promoter;
let url: string;
let dir: { path: string; remove: () => Promise<void> };

before(async () => {
  dir = await tempDir('serve-storm');
  rec = recordingPromoter(25); // slow enough that bursts coalesce
  impl = rec.promoter;
  server = await startServer({
    config: ConfigSchema.parse({
      models: [...MODELS.map((name) => ({ name })), { name: 'other-alias', alias: 'prod' }],
      server: { listen: '127.0.0.1:0', stateDir: dir.path, reconcileInterval: 3600, maxSkew: 300 },
    }),
    promoter: (req) => impl(req),
    webhookSecret: SECRET,
    mlflow: { trackingUri: `http://127.0.0.1:${await freePort()}`, retry: { attempts: 1 } },
    concurrency: 4,
  });
  url = `${server.url}/webhooks/mlflow`;
});

after(async () => {
  await server?.stop();
  await dir?.remove();
});

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Move {
  model: string;
  version: string;
  /** Position in the model's move sequence: higher = later alias move. */
  order: number;
}

async function sendAll(list: Delivery[], concurrency: number) {
  const answers: Array<{ d: Delivery; status: number; body: string }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < list.length; i = next++) {
        const d = list[i]!;
        answers.push({ d, ...(await postDelivery(url, d)) });
      }
    }),
  );
  return answers;
}

describe('200 signed deliveries for 20 models', () => {
  const moves: Move[] = [];
  const versionOrder = new Map<string, number>(); // "model/version" -> order
  let sent: Delivery[] = [];
  let answers: Array<{ d: Delivery; status: number; body: string }> = [];

  test('every delivery is answered: 202 once per delivery id, 200 for a retry of the same id', async () => {
    const random = rng(6);
    const base = Date.now() - 60_000;
    // 7 alias moves per model, versions in a shuffled (not increasing) order: 140 moves
    for (const model of MODELS) {
      const versions = ['1', '2', '3', '4', '5', '6', '7'].sort(() => random() - 0.5);
      for (const [order, version] of versions.entries()) {
        moves.push({ model, version, order });
        versionOrder.set(`${model}/${version}`, order);
      }
    }
    const deliveries = moves.map((m) => ({
      m,
      d: signedDelivery(
        SECRET,
        { name: m.model, version: m.version },
        { eventAt: new Date(base + m.order * 1000 + MODELS.indexOf(m.model)) },
      ),
    }));
    // 60 duplicates: MLflow retrying the same delivery (same id, same bytes)
    const dupes = Array.from({ length: 60 }, () => deliveries[Math.floor(random() * deliveries.length)]!);
    // arrival order: roughly the move order, but shuffled within a window (out of order)
    const all = [...deliveries, ...dupes].map((x) => ({ ...x, key: x.m.order + random() * 3 }));
    all.sort((a, b) => a.key - b.key);
    sent = all.map((x) => x.d);
    assert.equal(sent.length, 200);
    answers = await sendAll(sent, 8);
    await server.queue.idle();

    const byId = new Map<string, number[]>();
    for (const a of answers) byId.set(a.d.deliveryId, [...(byId.get(a.d.deliveryId) ?? []), a.status]);
    assert.equal(byId.size, 140);
    for (const [id, statuses] of byId) {
      assert.equal(statuses.filter((s) => s === 202).length, 1, `${id}: ${statuses}`);
      assert.ok(
        statuses.every((s) => s === 202 || s === 200),
        `${id}: ${statuses}`,
      );
    }
    const dupAnswers = answers.filter((a) => a.status === 200);
    assert.equal(dupAnswers.length, 60);
    assert.ok(dupAnswers.every((a) => JSON.parse(a.body).status === 'duplicate'));
  });

  test('each model ends at its final version, promoted once, after only ever-newer moves', async () => {
    const calls = rec.calls.map((c) => `${c.name}/${c.version}`);
    assert.equal(new Set(calls).size, calls.length, 'a (model, version) was promoted twice');
    for (const model of MODELS) {
      const mine = rec.calls
        .filter((c) => c.name === model)
        .map((c) => versionOrder.get(`${model}/${c.version}`)!);
      assert.ok(mine.length >= 1, `${model} was never promoted`);
      for (let i = 1; i < mine.length; i++) {
        assert.ok(mine[i]! > mine[i - 1]!, `${model} promoted an older move after a newer one: ${mine}`);
      }
      const final = moves.find((m) => m.model === model && m.order === 6)!;
      assert.equal(rec.calls.filter((c) => c.name === model).at(-1)?.version, final.version, model);
      const history = server.store.history(model);
      assert.ok(
        history.every((r) => r.status === 'succeeded' || r.status === 'superseded'),
        `${model}: ${history.map((r) => r.status)}`,
      );
      assert.equal(history.filter((r) => r.status === 'succeeded').length, mine.length);
    }
    assert.equal(server.store.counts().queued, 0);
    console.log(
      `${rec.calls.length} promotions for 140 alias moves (${140 - rec.calls.length} coalesced or out of date)`,
    );
  });

  test('forged, replayed and stale deliveries start nothing', async () => {
    const before = rec.calls.length;
    const rows = MODELS.map((m) => server.store.history(m).length);
    const forged = signedDelivery('not-the-secret', { name: 'model-00', version: '99' });
    const unsigned = signedDelivery(SECRET, { name: 'model-01', version: '99' });
    delete (unsigned.headers as Record<string, string | undefined>)['x-mlflow-signature'];
    // a captured delivery sent again (byte for byte) within the skew window
    const replayed = sent[0]!;
    // correctly signed, but 10 minutes old / 10 minutes ahead
    const old = signedDelivery(
      SECRET,
      { name: 'model-02', version: '99' },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    );
    const future = signedDelivery(
      SECRET,
      { name: 'model-03', version: '99' },
      { timestamp: Math.floor(Date.now() / 1000) + 600 },
    );
    // a valid delivery whose body was changed after signing
    const tampered = signedDelivery(SECRET, { name: 'model-04', version: '98' });
    tampered.body = tampered.body.replace('"98"', '"99"');
    const results = {
      forged: (await postDelivery(url, forged)).status,
      unsigned: (await postDelivery(url, unsigned)).status,
      replayed: (await postDelivery(url, replayed)).status,
      old: (await postDelivery(url, old)).status,
      future: (await postDelivery(url, future)).status,
      tampered: (await postDelivery(url, tampered)).status,
    };
    assert.deepEqual(results, {
      forged: 401,
      unsigned: 401,
      replayed: 200,
      old: 400,
      future: 400,
      tampered: 401,
    });
    await server.queue.idle();
    assert.equal(rec.calls.length, before);
    assert.deepEqual(
      MODELS.map((m) => server.store.history(m).length),
      rows,
    );
    const metrics = server.metrics.registry.render();
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="forged"}'), 2);
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="unsigned"}'), 1);
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="stale"}'), 2);
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="duplicate"}'), 61);
    assert.equal(metricValue(metrics, 'kiln_webhook_deliveries_total{verdict="accepted"}'), 140);
  });
});

describe('webhook answers', () => {
  const post = (
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: { error?: string } }> =>
    fetch(url, { method: 'POST', body, headers }).then(async (r) => ({
      status: r.status,
      json: (await r.json()) as { error?: string },
    }));

  test('202 comes back while the promotion it queued is still running', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let finished = false;
    impl = async (req) => {
      await gate;
      finished = true;
      return rec.promoter(req);
    };
    const d = signedDelivery(SECRET, { name: 'model-05', version: '42' });
    const r = await postDelivery(url, d);
    assert.equal(r.status, 202);
    assert.deepEqual(
      { ...JSON.parse(r.body), promotion: undefined },
      { status: 'accepted', delivery: d.deliveryId, decision: 'queued', promotion: undefined },
    );
    assert.equal(finished, false);
    release();
    await server.queue.idle();
    assert.equal(finished, true);
    impl = rec.promoter;
  });

  test('413 for a body over 1 MiB, declared or streamed; nothing is queued', async () => {
    const big = new Uint8Array(2 * 1024 * 1024).fill(0x20);
    assert.equal((await post(big, { 'content-type': 'application/json' })).status, 413);
    const streamed = new ReadableStream({
      start(c) {
        for (let i = 0; i < 32; i++) c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        c.close();
      },
    });
    const res = await fetch(url, { method: 'POST', body: streamed, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(server.metrics.deliveries.get({ verdict: 'too_large' }), 2);
  });

  test('400 for a signed body that is not JSON or not the alias shape', async () => {
    for (const body of [
      '{nope',
      JSON.stringify({ entity: 'model_version_alias', action: 'created', data: {} }),
    ]) {
      const id = randomUUID();
      const ts = String(Math.floor(Date.now() / 1000));
      const r = await post(body, {
        'x-mlflow-delivery-id': id,
        'x-mlflow-timestamp': ts,
        'x-mlflow-signature': signatureHeader(SECRET, id, ts, Buffer.from(body)),
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'malformed');
    }
  });

  test('422 for a model not in kiln.yaml, or a watched model at another alias', async () => {
    const a = await postDelivery(url, signedDelivery(SECRET, { name: 'stranger', version: '1' }));
    assert.equal(a.status, 422);
    assert.match(JSON.parse(a.body).message, /"stranger" is not in kiln.yaml models/);
    const b = await postDelivery(
      url,
      signedDelivery(SECRET, { name: 'other-alias', alias: 'champion', version: '1' }),
    );
    assert.equal(b.status, 422);
    assert.match(JSON.parse(b.body).message, /watched at alias "prod"/);
    const c = await postDelivery(
      url,
      signedDelivery(SECRET, { name: 'other-alias', alias: 'prod', version: '1' }),
    );
    assert.equal(c.status, 202);
  });

  test('200 for an authentic event kiln ignores on purpose', async () => {
    const d = signedDelivery(
      SECRET,
      { name: 'model-00', version: '1' },
      { entity: 'model_version', action: 'created' },
    );
    const r = await postDelivery(url, d);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'ignored');
  });

  test('405 for other methods on the webhook path, 404 elsewhere', async () => {
    const g = await fetch(url);
    assert.equal(g.status, 405);
    assert.equal(g.headers.get('allow'), 'POST');
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
  });
});
