// http.ts's direct route (the webhook's hot path without WHATWG objects) against a real node:http
// server and client on loopback: which requests take it, what it is given, that its answers are
// framed byte for byte like the fetch-shaped path's, and that the body cap still holds.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type DirectRequest, type HttpServer, isPath, listen } from '../../src/server/http.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  url: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string | string[]> = {},
  chunked = false,
): Promise<Reply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    if (body !== undefined && chunked) {
      // no Content-Length: the cap must cut the stream off while reading
      const bytes = Buffer.from(body);
      for (let i = 0; i < bytes.length; i += 64 * 1024) req.write(bytes.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

describe('http.ts direct route', () => {
  let server: HttpServer;
  const seen: Array<{ path: 'direct' | 'fetch'; method: string; sig: string | null; body: string }> = [];
  const answerBody = (sig: string | null, body: string) => ({ status: 'accepted', sig, length: body.length });

  before(async () => {
    server = await listen({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1024,
      tooLarge: () => Response.json({ error: 'too_large' }, { status: 413 }),
      direct: {
        path: '/hook',
        handle: async (req: DirectRequest) => {
          const sig = req.headers.get('x-sig');
          const body = req.body.toString();
          seen.push({ path: 'direct', method: 'POST', sig, body });
          return { status: 202, body: answerBody(sig, body) };
        },
      },
      handler: async (req) => {
        const sig = req.headers.get('x-sig');
        const body = await req.text();
        seen.push({ path: 'fetch', method: req.method, sig, body });
        return Response.json(answerBody(sig, body), { status: 202 });
      },
    });
  });
  after(() => server.close(0));

  test('only the exact path, with or without a query, is direct', () => {
    assert.equal(isPath('/hook', '/hook'), true);
    assert.equal(isPath('/hook?x=1', '/hook'), true);
    for (const other of [
      '/hook/',
      '/hooks',
      '/hook#x',
      '/./hook',
      '/%68ook',
      '//hook',
      'http://h/hook',
      '/',
      '',
    ]) {
      assert.equal(isPath(other, '/hook'), false, other);
    }
    assert.equal(isPath(undefined, '/hook'), false);
  });

  test('a POST to the path gets the body bytes and headers (repeats joined like Headers.get)', async () => {
    seen.length = 0;
    const r = await call(server.url, 'POST', '/hook?q=1', 'é{"a":1}', { 'X-Sig': ['v1,a', 'v1,b'] });
    assert.equal(r.status, 202);
    assert.deepEqual(seen, [{ path: 'direct', method: 'POST', sig: 'v1,a, v1,b', body: 'é{"a":1}' }]);
    assert.deepEqual(JSON.parse(r.body), { status: 'accepted', sig: 'v1,a, v1,b', length: 8 });
  });

  test('its answer is framed exactly like Response.json through the fetch-shaped path', async () => {
    seen.length = 0;
    const direct = await call(server.url, 'POST', '/hook', 'x', { 'x-sig': 's' });
    const viaFetch = await call(server.url, 'POST', '/./hook', 'x', { 'x-sig': 's' });
    assert.deepEqual(
      seen.map((s) => s.path),
      ['direct', 'fetch'],
    );
    const { date: _d1, ...h1 } = direct.headers;
    const { date: _d2, ...h2 } = viaFetch.headers;
    assert.deepEqual(h1, h2);
    assert.equal(h1['content-type'], 'application/json');
    // whole bodies go out with their length (one write), not chunked
    assert.equal(h1['content-length'], String(Buffer.byteLength(direct.body)));
    assert.equal(h1['transfer-encoding'], undefined);
    assert.equal(direct.status, viaFetch.status);
    assert.equal(direct.body, viaFetch.body);
  });

  test('other methods on the path go to the fetch-shaped handler', async () => {
    seen.length = 0;
    await call(server.url, 'GET', '/hook');
    await call(server.url, 'PUT', '/hook', 'y');
    assert.deepEqual(
      seen.map((s) => [s.path, s.method]),
      [
        ['fetch', 'GET'],
        ['fetch', 'PUT'],
      ],
    );
  });

  test('a body over the cap is refused with 413 and never reaches the route, declared or streamed', async () => {
    seen.length = 0;
    const big = Buffer.alloc(300 * 1024, 0x61);
    const declared = await call(server.url, 'POST', '/hook', big);
    const streamed = await call(server.url, 'POST', '/hook', big, {}, true);
    for (const r of [declared, streamed]) {
      assert.equal(r.status, 413);
      assert.equal(r.headers.connection, 'close');
      assert.deepEqual(JSON.parse(r.body), { error: 'too_large' });
    }
    assert.deepEqual(seen, []);
    // exactly at the cap is fine
    const atCap = await call(server.url, 'POST', '/hook', Buffer.alloc(1024, 0x62));
    assert.equal(atCap.status, 202);
  });
});
