// Blob downloads redirected to storage on another host (as S3/GCS-backed registries do): the
// storage host must never see the registry's Authorization; a same-origin hop keeps it.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { Registry, staticCredentials } from '../../src/oci/remote/index.ts';
import { hashStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type RegistryProxy, startProxy } from '../rig/registry-proxy.ts';

const BASIC = `Basic ${Buffer.from('kiln:s3cret').toString('base64')}`;

describe('redirects', () => {
  let rig: RegistryRig;
  let proxy: RegistryProxy;
  let storage: Server;
  let storageUrl: string;
  const storageSaw: IncomingHttpHeaders[] = [];

  before(async () => {
    rig = await startRegistry();
    // "Object storage" on another loopback address: a different host, not just a different port.
    storage = createServer((req, res) => {
      storageSaw.push(req.headers);
      void fetch(`${rig.url}${req.url}`).then(async (up) => {
        res.writeHead(up.status, { 'content-length': up.headers.get('content-length') ?? undefined });
        if (up.body) await pipeline(up.body, res);
        else res.end();
      });
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.2', r));
    storageUrl = `http://127.0.0.2:${(storage.address() as AddressInfo).port}`;
    // The registry's front door requires Basic auth and sends blob GETs elsewhere.
    proxy = await startProxy(rig.host, (req, res, forward) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' });
        return void res.end();
      }
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname.includes('/blobs/sha256:')) {
        if (url.searchParams.get('hop') === null) {
          res.writeHead(307, { location: `${url.pathname}?hop=1` }); // relative, same origin
          return void res.end();
        }
        res.writeHead(307, { location: `${storageUrl}${url.pathname}?X-Amz-Signature=abc` });
        return void res.end();
      }
      return forward();
    });
  });
  after(async () => {
    await proxy?.stop();
    storage?.closeAllConnections();
    await new Promise<void>((r) => (storage ? storage.close(() => r()) : r()));
    await rig?.stop();
  });

  test('a blob GET follows redirects; Authorization stays on the registry and never reaches storage', async () => {
    const registry = new Registry({
      registry: proxy.host,
      credentials: staticCredentials({ [proxy.host]: { username: 'kiln', password: 's3cret' } }),
    });
    const bytes = Buffer.alloc(256 * 1024, 9);
    const { digest } = await registry.uploadBlob('ml/redirect', bytes);
    proxy.seen.length = 0;
    storageSaw.length = 0;

    assert.deepEqual(await hashStream(await registry.getBlob('ml/redirect', digest)), {
      digest,
      size: bytes.length,
    });
    assert.deepEqual(
      (await registry.getBlobBytes('ml/redirect', digest)).subarray(0, 4),
      Buffer.from([9, 9, 9, 9]),
    );

    const gets = proxy.seen.filter((r) => r.method === 'GET');
    assert.ok(gets.length >= 4, 'two downloads, each a first hop and a same-origin hop');
    for (const r of gets) assert.equal(r.headers.authorization, BASIC, `${r.url} kept its credentials`);
    assert.equal(storageSaw.length, 2);
    for (const h of storageSaw) assert.equal(h.authorization, undefined, 'storage never sees Authorization');
  });
});
