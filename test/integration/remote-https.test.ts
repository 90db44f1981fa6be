// HTTPS is the default for non-loopback registries. A TLS proxy (self-signed certificate for
// 127.0.0.1, made by openssl) in front of the real registry: trusted via `tls.ca` it works;
// untrusted, or TLS spoken to a plain-HTTP registry, is REGISTRY_UNREACHABLE with a TLS hint.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry, staticCredentials } from '../../src/oci/remote/index.ts';
import { run, tempDir } from '../rig/proc.ts';
import { hashStream, randomStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type RegistryProxy, startProxy } from '../rig/registry-proxy.ts';

describe('registry over https', () => {
  let rig: RegistryRig;
  let proxy: RegistryProxy;
  let cert: string;
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('tls');
    const key = join(dir.path, 'key.pem');
    const crt = join(dir.path, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=kiln test registry',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      crt,
    ]);
    cert = await readFile(crt, 'utf8');
    rig = await startRegistry();
    proxy = await startProxy(rig.host, undefined, { tls: { key: await readFile(key, 'utf8'), cert } });
  });
  after(async () => {
    await proxy?.stop();
    await rig?.stop();
    await dir?.remove();
  });

  const FAST = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };
  const none = staticCredentials({});

  test('a registry with a trusted certificate takes a streamed push over https', async () => {
    const registry = new Registry({
      registry: proxy.host,
      plainHttp: false,
      tls: { ca: cert },
      credentials: none,
    });
    const src = randomStream(4 << 20);
    const { digest } = await registry.uploadBlobStream('ml/tls', src.stream);
    assert.equal(digest, src.digest());
    assert.equal((await hashStream(await registry.getBlob('ml/tls', digest))).digest, digest);
    assert.ok(proxy.seen.some((r) => r.method === 'PATCH'));
  });

  test('an untrusted certificate is REGISTRY_UNREACHABLE with a TLS hint, not retried', async () => {
    const registry = new Registry({ registry: proxy.host, plainHttp: false, retry: FAST, credentials: none });
    await assert.rejects(
      registry.headBlob('ml/tls', `sha256:${'0'.repeat(64)}`),
      (e: Error & { code?: string; hint?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'REGISTRY_UNREACHABLE');
        assert.match(e.message, /self-signed|certificate/i);
        assert.match(e.hint ?? '', /TLS/);
        assert.equal(e.details?.['attempts'], 1);
        return true;
      },
    );
  });

  test('https spoken to a plain-HTTP registry says so and points at registry.insecure', async () => {
    const registry = new Registry({ registry: rig.host, plainHttp: false, retry: FAST, credentials: none });
    await assert.rejects(
      registry.getManifest('ml/tls', 'v1'),
      (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'REGISTRY_UNREACHABLE');
        assert.match(e.hint ?? '', /plain HTTP.*registry\.insecure/);
        return true;
      },
    );
  });

  test('non-loopback hosts default to https; loopback and insecure-listed hosts use http', () => {
    assert.equal(new Registry('registry.example.com').transport.base.protocol, 'https:');
    assert.equal(new Registry('docker.io').transport.base.href, 'https://registry-1.docker.io/');
    assert.equal(new Registry(rig.host).transport.base.protocol, 'http:');
    assert.equal(
      new Registry({ registry: 'lab.internal:5000', insecure: ['lab.internal:5000'] }).transport.base
        .protocol,
      'http:',
    );
  });
});
