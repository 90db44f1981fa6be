// The MLflow client when the network misbehaves: a small in-process proxy in front of the real
// server records what kiln sends and injects faults (503 bursts, bodies cut mid-way, a server
// without Range support, short bodies); a closed port stands in for a server that is down.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import {
  listModelFiles,
  MlflowClient,
  type MlflowOptions,
  type ModelVersionInfo,
  openModelFile,
  parseModelUri,
  resolveModelVersion,
} from '../../src/mlflow/index.ts';
import { type LoggedFixture, logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { DOWNLOAD, type MlflowProxy, NO_FAULTS, selfSignedProxy, startProxy } from '../rig/mlflow-proxy.ts';
import { freePort } from '../rig/proc.ts';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (m) => warnings.push(m) };
}

async function sha256(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('MLflow client under network faults', () => {
  let rig: MlflowRig;
  let proxy: MlflowProxy;
  let big: LoggedFixture;
  const FAST = { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 };
  const via = (extra: Partial<MlflowOptions> = {}): MlflowClient =>
    new MlflowClient({ trackingUri: proxy.url, retry: FAST, ...extra });

  before(async () => {
    rig = await startMlflow();
    proxy = await startProxy(rig.url);
    [big] = (await logModels(rig, [{ name: 'big', sizeBytes: 8 << 20, alias: 'champion' }])) as [
      LoggedFixture,
    ];
  });
  after(async () => {
    await proxy?.close();
    await rig?.stop();
  });
  beforeEach(() => {
    proxy.faults = { ...NO_FAULTS };
    proxy.seen.length = 0;
  });

  const resolve = (client: MlflowClient, uri = 'models:/big@champion'): Promise<ModelVersionInfo> =>
    resolveModelVersion(client, parseModelUri(uri));
  const pkl = () => {
    const f = big.files.find((x) => x.path === 'model.pkl');
    assert.ok(f);
    return f;
  };

  it('sends MLFLOW_TRACKING_TOKEN as a bearer token', async () => {
    await resolve(via({ token: 's3cret' }));
    assert.ok(proxy.seen.length > 0);
    for (const r of proxy.seen) assert.equal(r.headers.authorization, 'Bearer s3cret');
  });

  it('sends MLFLOW_TRACKING_USERNAME/PASSWORD as basic auth, on downloads too', async () => {
    const client = via({ username: 'ann', password: 'pa:ss' });
    const info = await resolve(client);
    await sha256(
      openModelFile(client, info, {
        path: 'MLmodel',
        size: (await listModelFiles(client, info))[0]?.size ?? 0,
      }),
    );
    assert.ok(proxy.seen.some((r) => r.url.startsWith(DOWNLOAD)));
    const basic = `Basic ${Buffer.from('ann:pa:ss').toString('base64')}`;
    for (const r of proxy.seen) assert.equal(r.headers.authorization, basic);
  });

  it('sends no Authorization header without credentials', async () => {
    await resolve(via());
    for (const r of proxy.seen) assert.equal(r.headers.authorization, undefined);
  });

  it('rides out a burst of 503s', async () => {
    proxy.faults.fail503 = 3;
    const log = recordingLogger();
    const info = await resolve(via({ log }));
    assert.equal(info.version, big.version);
    assert.equal(proxy.seen.filter((r) => r.url.includes('registered-models/alias')).length, 4);
    assert.equal(log.warnings.length, 3);
  });

  it('gives up after the bounded number of tries and keeps the status', async () => {
    proxy.faults.fail503 = 100;
    await assert.rejects(resolve(via({ retry: { ...FAST, attempts: 3 } })), (e: unknown) => {
      assert.ok(isKilnError(e, 'MLFLOW_REQUEST_FAILED'), String(e));
      assert.equal(e.details['status'], 503);
      assert.equal(e.details['errorCode'], 'TEMPORARILY_UNAVAILABLE');
      return true;
    });
    assert.equal(proxy.seen.length, 3);
  });

  it('never retries a 4xx answer', async () => {
    await assert.rejects(resolve(via(), 'models:/big@nope'), (e: unknown) =>
      isKilnError(e, 'MODEL_ALIAS_NOT_FOUND'),
    );
    assert.equal(proxy.seen.filter((r) => r.url.includes('registered-models/alias')).length, 1);
  });

  it('resumes a download cut mid-body with a Range request and delivers every byte once', async () => {
    proxy.faults.cuts = 2;
    proxy.faults.cutAt = (1 << 20) + 3;
    const log = recordingLogger();
    const client = via({ log });
    const info = await resolve(client);
    assert.equal(
      await sha256(openModelFile(client, info, { path: 'model.pkl', size: pkl().size })),
      pkl().sha256,
    );
    const gets = proxy.seen.filter((r) => r.url.endsWith('/model.pkl'));
    assert.equal(gets.length, 3);
    assert.equal(gets[0]?.headers.range, undefined);
    assert.match(String(gets[1]?.headers.range), /^bytes=\d+-$/);
    assert.ok(gets[1]?.headers['if-range'], 'the resume is pinned to the ETag');
    assert.equal(log.warnings.filter((w) => /resuming/.test(w)).length, 2);
  });

  it('fails clearly when a cut download cannot be resumed (no Range support)', async () => {
    Object.assign(proxy.faults, { cuts: 1, cutAt: 1 << 20, noRange: true });
    const client = via();
    const info = await resolve(client);
    await assert.rejects(
      sha256(openModelFile(client, info, { path: 'model.pkl', size: pkl().size })),
      (e: unknown) => {
        assert.ok(isKilnError(e, 'ARTIFACT_DOWNLOAD_INTERRUPTED'), String(e));
        assert.match(e.message, /model\.pkl/);
        assert.ok((e.details['received'] as number) < pkl().size);
        assert.match(e.hint ?? '', /resuming/);
        return true;
      },
    );
  });

  it('fails with ARTIFACT_SIZE_MISMATCH when the server announces a different size', async () => {
    Object.assign(proxy.faults, { truncateTo: 1000, announce: true });
    const client = via();
    const info = await resolve(client);
    await assert.rejects(
      sha256(openModelFile(client, info, { path: 'model.pkl', size: pkl().size })),
      (e: unknown) => {
        assert.ok(isKilnError(e, 'ARTIFACT_SIZE_MISMATCH'), String(e));
        assert.equal(e.details['got'], 1000);
        return true;
      },
    );
  });

  it('fails with ARTIFACT_SIZE_MISMATCH when the body ends early without saying so', async () => {
    Object.assign(proxy.faults, { truncateTo: 5000, announce: false });
    const client = via();
    const info = await resolve(client);
    await assert.rejects(
      sha256(openModelFile(client, info, { path: 'model.pkl', size: pkl().size })),
      (e: unknown) => {
        assert.ok(isKilnError(e, 'ARTIFACT_SIZE_MISMATCH'), String(e));
        assert.equal(e.details['got'], 5000);
        assert.equal(e.details['expected'], pkl().size);
        return true;
      },
    );
  });

  it('refuses a listing entry whose path is not a string', async () => {
    proxy.faults.mangleListing = (j) => ({
      files: [...(j.files ?? []), { path: 42, is_dir: false, file_size: 1 }],
    });
    const client = via();
    await assert.rejects(listModelFiles(client, await resolve(client)), (e: unknown) => {
      assert.ok(isKilnError(e, 'ARTIFACT_LISTING_INVALID'), String(e));
      assert.match(e.message, /"path":42/);
      return true;
    });
  });

  it('refuses a listed file without a size', async () => {
    proxy.faults.mangleListing = (j) => ({ files: [...(j.files ?? []), { path: 'x.bin', is_dir: false }] });
    const client = via();
    await assert.rejects(listModelFiles(client, await resolve(client)), (e: unknown) =>
      isKilnError(e, 'ARTIFACT_LISTING_INVALID'),
    );
  });

  it('stops a download when the caller aborts it', async () => {
    const client = via();
    const info = await resolve(client);
    const abort = new AbortController();
    const stream = openModelFile(
      client,
      info,
      { path: 'model.pkl', size: pkl().size },
      { signal: abort.signal },
    );
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          got += (chunk as Buffer).length;
          abort.abort();
        }
      })(),
      (e: unknown) => (e as Error).name === 'AbortError',
    );
    assert.ok(got > 0 && got < pkl().size);
    assert.equal(stream.destroyed, true);
  });

  it('reports MLFLOW_UNREACHABLE with the URL and a hint, after a bounded number of tries', async () => {
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const log = recordingLogger();
    const started = Date.now();
    await assert.rejects(resolve(new MlflowClient({ trackingUri: url, log })), (e: unknown) => {
      assert.ok(isKilnError(e, 'MLFLOW_UNREACHABLE'), String(e));
      assert.match(e.message, new RegExp(url.replace(/\./g, '\\.')));
      assert.match(e.message, /ECONNREFUSED/);
      assert.equal(e.hint, 'is the server running? check MLFLOW_TRACKING_URI');
      assert.equal(e.details['attempts'], 5);
      return true;
    });
    assert.equal(log.warnings.length, 4);
    assert.ok(Date.now() - started < 10_000, 'default backoff stays bounded');
  });

  it('reports MLFLOW_UNREACHABLE when the server stops', async () => {
    const other = await startProxy(rig.url);
    const client = new MlflowClient({ trackingUri: other.url, retry: FAST });
    await resolve(client);
    await other.close();
    await assert.rejects(resolve(client), (e: unknown) => isKilnError(e, 'MLFLOW_UNREACHABLE'));
  });

  it('refuses a self-signed server by default, naming the settings that fix it', async () => {
    const tls = await selfSignedProxy(rig.url);
    try {
      await assert.rejects(
        resolve(new MlflowClient({ trackingUri: tls.proxy.url, retry: FAST })),
        (e: unknown) => {
          assert.ok(isKilnError(e, 'MLFLOW_TLS_FAILED'), String(e));
          assert.equal(e.kind, 'usage');
          assert.match(e.hint ?? '', /MLFLOW_TRACKING_SERVER_CERT_PATH/);
          return true;
        },
      );
      assert.equal(tls.proxy.seen.length, 0, 'no request got through, and none was retried');
    } finally {
      await tls.close();
    }
  });

  it('talks to a self-signed server with MLFLOW_TRACKING_INSECURE_TLS or its CA bundle', async () => {
    const tls = await selfSignedProxy(rig.url);
    try {
      for (const extra of [{ insecureTls: true }, { caCertPath: tls.certPath }]) {
        const client = new MlflowClient({ trackingUri: tls.proxy.url, retry: FAST, ...extra });
        const info = await resolve(client);
        const mlmodel = (await listModelFiles(client, info)).find((f) => f.path === 'MLmodel');
        assert.ok(mlmodel);
        const want = big.files.find((f) => f.path === 'MLmodel')?.sha256;
        assert.equal(await sha256(openModelFile(client, info, mlmodel)), want);
      }
    } finally {
      await tls.close();
    }
  });
});
