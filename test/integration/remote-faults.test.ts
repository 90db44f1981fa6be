// Failures a real registry will not produce on demand, injected by a proxy in front of one:
// 429 bursts, 5xx, refusals, a registry that is down, and content swapped on the way.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { Registry, type RegistryOptions } from '../../src/oci/remote/index.ts';
import { freePort } from '../rig/proc.ts';
import { hashStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type ProxyHandler, sendJson, startProxy } from '../rig/registry-proxy.ts';

const FAST = { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 };

describe('registry faults', () => {
  let rig: RegistryRig;
  let direct: Registry;
  const stops: Array<() => Promise<void>> = [];
  before(async () => {
    rig = await startRegistry();
    direct = new Registry(rig.host);
  });
  after(async () => {
    for (const stop of stops) await stop();
    await rig?.stop();
  });

  async function behind(handler: ProxyHandler, opts: Partial<RegistryOptions> = {}) {
    const proxy = await startProxy(rig.host, handler);
    stops.push(proxy.stop);
    return { proxy, registry: new Registry({ registry: proxy.host, retry: FAST, ...opts }) };
  }

  test('a 429 burst with Retry-After is waited out and the push succeeds', async () => {
    let limited = 0;
    const perMethod: Record<string, number> = {};
    const { registry } = await behind((req, res, forward) => {
      // The first two POSTs and the first two PUTs are rate-limited.
      const m = req.method ?? '';
      perMethod[m] = (perMethod[m] ?? 0) + 1;
      if ((m === 'POST' || m === 'PUT') && perMethod[m]! <= 2) {
        limited++;
        return sendJson(
          res,
          429,
          { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] },
          { 'retry-after': '1' },
        );
      }
      return forward();
    });
    const started = Date.now();
    const { digest } = await registry.uploadBlob('ml/limited', Buffer.from('rate limited blob'));
    const took = Date.now() - started;
    assert.equal(limited, 4, 'two 429s for the session POST, two for the commit PUT');
    assert.ok(took >= 4000, `Retry-After: 1 was honoured four times (took ${took} ms)`);
    assert.equal((await direct.getBlobBytes('ml/limited', digest)).toString(), 'rate limited blob');
  });

  test('a Retry-After beyond the bound is not waited out: the 429 is reported at once', async () => {
    const { registry } = await behind((_req, res) =>
      sendJson(
        res,
        429,
        { errors: [{ code: 'TOOMANYREQUESTS', message: 'pull rate limit' }] },
        { 'retry-after': '3600' },
      ),
    );
    const started = Date.now();
    await assert.rejects(
      registry.getManifest('ml/x', 'v1'),
      (e: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'REGISTRY_ERROR');
        assert.equal(e.details?.['status'], 429);
        assert.match(e.message, /TOOMANYREQUESTS: pull rate limit/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 1000);
  });

  test('a 503 on a read is retried with backoff; a persistent 500 ends as REGISTRY_ERROR with the registry message', async () => {
    let failures = 0;
    const flaky = await behind((req, res, forward) => {
      if (req.method === 'HEAD' && failures++ < 2) return sendJson(res, 503, {});
      return forward();
    });
    const { digest } = await direct.uploadBlob('ml/flaky', Buffer.from('flaky'));
    assert.deepEqual(await flaky.registry.headBlob('ml/flaky', digest), { size: 5 });
    assert.equal(failures, 3);

    const broken = await behind((_req, res) =>
      sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: 'filesystem: disk full' }] }),
    );
    await assert.rejects(
      broken.registry.getManifest('ml/flaky', 'v1'),
      (e: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'REGISTRY_ERROR');
        assert.equal(e.details?.['status'], 500);
        assert.deepEqual(e.details?.['errors'], [
          { code: 'UNKNOWN', message: 'filesystem: disk full', detail: undefined },
        ]);
        assert.match(e.message, /answered 500 .*disk full/);
        return true;
      },
    );
    assert.equal(broken.proxy.seen.length, FAST.attempts, 'bounded: exactly `attempts` tries');
  });

  test('a registry that is down is REGISTRY_UNREACHABLE after bounded retries, naming the host', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const registry = new Registry({ registry: host, retry: FAST });
    const started = Date.now();
    await assert.rejects(
      registry.getManifest('ml/x', 'v1'),
      (e: Error & { code?: string; hint?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'REGISTRY_UNREACHABLE');
        assert.ok(e.message.includes(host));
        assert.match(e.message, /ECONNREFUSED/);
        assert.match(e.hint ?? '', /running/);
        assert.equal(e.details?.['attempts'], FAST.attempts);
        return true;
      },
    );
    assert.ok(Date.now() - started < 2000);
  });

  test('403 is REGISTRY_DENIED', async () => {
    const { registry } = await behind((_req, res) =>
      sendJson(res, 403, {
        errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }],
      }),
    );
    await assert.rejects(
      registry.uploadBlob('ml/denied', Buffer.from('x')),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'REGISTRY_DENIED');
        assert.match(e.message, /denied/);
        return true;
      },
    );
  });

  test('blob bytes swapped on the way fail the stream with DIGEST_MISMATCH at its end', async () => {
    const wanted = await direct.uploadBlob('ml/swap', Buffer.alloc(1 << 20, 1));
    const other = await direct.uploadBlob('ml/swap', Buffer.alloc(1 << 20, 2));
    const { registry } = await behind((req, _res, forward) =>
      forward({ path: req.url?.replace(wanted.digest, other.digest) }),
    );
    const stream = await registry.getBlob('ml/swap', wanted.digest);
    await assert.rejects(hashStream(stream), { code: 'DIGEST_MISMATCH' });
    await assert.rejects(registry.getBlobBytes('ml/swap', wanted.digest), { code: 'DIGEST_MISMATCH' });
  });

  test('a manifest fetched by digest must hash to it; a pushed one must match Docker-Content-Digest', async () => {
    const config = await direct.uploadBlob('ml/mf', Buffer.from('{}'));
    const manifest = (n: number) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          config: { mediaType: MT.ociConfig, digest: config.digest, size: config.size },
          layers: [],
          annotations: { n: String(n) },
        }),
      );
    const a = await direct.putManifest('ml/mf', 'a', manifest(1), MT.ociManifest);
    const b = await direct.putManifest('ml/mf', 'b', manifest(2), MT.ociManifest);
    const swapped = await behind((req, _res, forward) =>
      forward({
        path: req.url?.replace(a, b),
        responseHeaders: (h) => ({ ...h, 'docker-content-digest': sha256Digest('not this') }),
      }),
    );
    await assert.rejects(swapped.registry.getManifest('ml/mf', a), { code: 'DIGEST_MISMATCH' });
    await assert.rejects(swapped.registry.getManifest('ml/mf', 'a'), { code: 'DIGEST_MISMATCH' });
    await assert.rejects(swapped.registry.putManifest('ml/mf', 'c', manifest(3), MT.ociManifest), {
      code: 'DIGEST_MISMATCH',
    });
  });
});
