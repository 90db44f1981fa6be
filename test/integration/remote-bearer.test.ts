// The bearer token flow (distribution `docs/spec/auth/token.md`) against a real registry: a proxy
// in front of it plays the token realm, demands a token with the right scope on every /v2/
// request, and forwards the authorised ones to the registry.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MT } from '../../src/oci/mediatypes.ts';
import { dockerKeychain, Registry, staticCredentials } from '../../src/oci/remote/index.ts';
import { sleep, tempDir } from '../rig/proc.ts';
import { hashStream, randomStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type RegistryProxy, readAll, sendJson, startProxy } from '../rig/registry-proxy.ts';

const BASIC = `Basic ${Buffer.from('kiln:s3cret').toString('base64')}`;
const REFRESH = 'refresh-xyz';

interface TokenRequest {
  method: string;
  service: string | null;
  scopes: string[];
  authorization: string | undefined;
  form?: URLSearchParams;
}

describe('bearer token auth', () => {
  let rig: RegistryRig;
  let proxy: RegistryProxy;
  let dir: { path: string; remove: () => Promise<void> };
  const tokens = new Map<string, { scopes: string[]; expires: number }>();
  const tokenRequests: TokenRequest[] = [];
  let unauthorized = 0;
  let ttlSeconds = 300;

  const grants = (scopes: string[], repo: string, action: string): boolean =>
    scopes.some(
      (s) => s.startsWith(`repository:${repo}:`) && s.split(':').at(-1)!.split(',').includes(action),
    );

  before(async () => {
    rig = await startRegistry();
    dir = await tempDir('bearer');
    proxy = await startProxy(rig.host, async (req, res, forward) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        const form = req.method === 'POST' ? new URLSearchParams(await readAll(req)) : undefined;
        const scopes = form
          ? (form.get('scope') ?? '').split(' ').filter(Boolean)
          : url.searchParams.getAll('scope');
        const service = form ? form.get('service') : url.searchParams.get('service');
        tokenRequests.push({
          method: req.method ?? '',
          service,
          scopes,
          authorization: req.headers.authorization,
          form,
        });
        let granted: string[];
        if (form) {
          if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== REFRESH)
            return sendJson(res, 401, {});
          granted = scopes;
        } else if (req.headers.authorization === BASIC) {
          granted = scopes;
        } else if (req.headers.authorization === undefined) {
          granted = scopes.map((s) => s.replace(/:[^:]*$/, ':pull')); // anonymous: pull only, like Docker Hub
        } else {
          return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
        }
        const token = randomUUID();
        tokens.set(token, { scopes: granted, expires: Date.now() + ttlSeconds * 1000 });
        return sendJson(
          res,
          200,
          form ? { access_token: token, expires_in: ttlSeconds } : { token, expires_in: ttlSeconds },
        );
      }
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(url.pathname)?.[1];
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
      const auth = req.headers.authorization ?? '';
      const held = auth.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined;
      const ok = held && held.expires > Date.now() && (!repo || grants(held.scopes, repo, action));
      if (!ok) {
        unauthorized++;
        const scope = repo ? `,scope="repository:${repo}:pull,push"` : '';
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${proxy.url}/token",service="kiln-proxy"${scope}`,
        });
        return void res.end();
      }
      return forward();
    });
  });
  after(async () => {
    await proxy?.stop();
    await rig?.stop();
    await dir?.remove();
  });

  const withPassword = (password: string) =>
    new Registry({
      registry: proxy.host,
      credentials: staticCredentials({ [proxy.host]: { username: 'kiln', password } }),
    });

  test('push and pull go through one token for repository:<name>:pull,push, fetched with Basic credentials', async () => {
    tokenRequests.length = 0;
    const registry = withPassword('s3cret');
    const src = randomStream(2 << 20);
    const blob = await registry.uploadBlobStream('ml/bearer', src.stream);
    const config = await registry.uploadBlob('ml/bearer', Buffer.from('{}'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: config.digest, size: config.size },
        layers: [{ mediaType: MT.ociLayer, digest: blob.digest, size: blob.size }],
      }),
    );
    const digest = await registry.putManifest('ml/bearer', 'v1', manifest, MT.ociManifest);
    assert.equal((await registry.getManifest('ml/bearer', 'v1')).digest, digest);
    assert.equal((await hashStream(await registry.getBlob('ml/bearer', blob.digest))).digest, src.digest());

    assert.equal(tokenRequests.length, 1, 'the first token is cached and covers every later request');
    assert.deepEqual(tokenRequests[0], {
      method: 'GET',
      service: 'kiln-proxy',
      scopes: ['repository:ml/bearer:pull,push'],
      authorization: BASIC,
      form: undefined,
    });
  });

  test('a wrong password is refused by the token realm: REGISTRY_AUTH_FAILED', async () => {
    await assert.rejects(
      withPassword('nope').getManifest('ml/bearer', 'v1'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
        assert.match(
          e.message,
          new RegExp(`registry ${proxy.host} rejected the credentials for user "kiln"`),
        );
        return true;
      },
    );
  });

  test('anonymous: pulls with an anonymous token; a push is REGISTRY_AUTH_FAILED after one retry', async () => {
    const anonymous = new Registry({ registry: proxy.host, credentials: staticCredentials({}) });
    assert.equal((await anonymous.getManifest('ml/bearer', 'v1')).mediaType, MT.ociManifest);
    await assert.rejects(anonymous.uploadBlob('ml/bearer', Buffer.from('nope')), {
      code: 'REGISTRY_AUTH_FAILED',
      message: new RegExp(`registry ${proxy.host} rejected anonymous access`),
    });
  });

  test('an identity token from the Docker config is exchanged with an OAuth2 refresh_token POST', async () => {
    tokenRequests.length = 0;
    const path = join(dir.path, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { [proxy.host]: { identitytoken: REFRESH } } }));
    const registry = new Registry({ registry: proxy.host, credentials: dockerKeychain({ path, env: {} }) });
    const { digest } = await registry.uploadBlob('ml/oauth', Buffer.from('via refresh token'));
    assert.equal((await registry.getBlobBytes('ml/oauth', digest)).toString(), 'via refresh token');
    assert.equal(tokenRequests.length, 1);
    assert.equal(tokenRequests[0]?.method, 'POST');
    assert.equal(tokenRequests[0]?.form?.get('service'), 'kiln-proxy');
    assert.equal(tokenRequests[0]?.form?.get('client_id'), 'kiln');
    assert.deepEqual(tokenRequests[0]?.scopes, ['repository:ml/oauth:pull,push']);
  });

  test('tokens are renewed before expires_in runs out, and a revoked token is replaced after one 401', async () => {
    const registry = withPassword('s3cret');
    ttlSeconds = 1; // kiln keeps a 1 s token for half its life
    try {
      await registry.headManifest('ml/bearer', 'v1');
      tokenRequests.length = 0;
      unauthorized = 0;
      await sleep(700);
      assert.ok(await registry.headManifest('ml/bearer', 'v1'));
      assert.equal(tokenRequests.length, 1, 'a fresh token was fetched');
      assert.equal(unauthorized, 0, 'before the old one was refused');
    } finally {
      ttlSeconds = 300;
    }
    await registry.headManifest('ml/bearer', 'v1'); // a long-lived token now
    tokens.clear(); // the realm revokes everything
    tokenRequests.length = 0;
    unauthorized = 0;
    assert.ok(await registry.headManifest('ml/bearer', 'v1'));
    assert.equal(unauthorized, 1);
    assert.equal(tokenRequests.length, 1);
  });
});
