// Credentials found as Docker finds them: real config files and real credential-helper
// executables (shell scripts written into a temp dir that the resolver's PATH points at).
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dockerConfigPath, dockerKeychain } from '../../src/oci/remote/dockerconfig.ts';
import { tempDir } from '../rig/proc.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('docker config credentials', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let bin: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = await tempDir('dockercfg');
    bin = join(dir.path, 'bin');
    await mkdir(bin);
    env = { PATH: `${bin}:${process.env['PATH']}`, HOME: dir.path };
    // A helper that logs the server address it was asked for, knows two hosts, and answers
    // "credentials not found" (exit 1) for the rest, exactly like docker-credential-pass does.
    await helper(
      'kilntest',
      `case "$host" in
  127.0.0.1:5000) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}' "$host" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-123"}' "$host" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`,
    );
    await helper('broken', 'echo "dbus is down" >&2; exit 3');
  });
  after(async () => {
    await dir?.remove();
  });

  async function helper(name: string, body: string): Promise<void> {
    const file = join(bin, `docker-credential-${name}`);
    await writeFile(
      file,
      `#!/bin/sh\nhost=$(cat)\necho "$host" >> "${join(dir.path, `${name}.log`)}"\n${body}\n`,
    );
    await chmod(file, 0o755);
  }

  async function config(name: string, json: unknown): Promise<string> {
    const path = join(dir.path, `${name}.json`);
    await writeFile(path, JSON.stringify(json));
    return path;
  }

  test('auths: base64 user:password (the password may contain colons)', async () => {
    const path = await config('auth', { auths: { 'reg.example.com': { auth: b64('kiln:pa:ss') } } });
    assert.deepEqual(await dockerKeychain({ path, env })('reg.example.com'), {
      username: 'kiln',
      password: 'pa:ss',
    });
  });

  test('auths: username/password fields and identitytoken', async () => {
    const path = await config('fields', {
      auths: {
        'a.example.com': { username: 'u', password: 'p' },
        'b.example.com': { identitytoken: 'refresh-abc' },
      },
    });
    const keychain = dockerKeychain({ path, env });
    assert.deepEqual(await keychain('a.example.com'), { username: 'u', password: 'p' });
    assert.deepEqual(await keychain('b.example.com'), { identityToken: 'refresh-abc', username: undefined });
  });

  test('host keys match as Docker matches them: https://host/v1/ and bare host, port included', async () => {
    const path = await config('keys', {
      auths: {
        'https://reg.example.com:5000/v1/': { auth: b64('v1:pw') },
        'other.example.com': { auth: b64('bare:pw') },
      },
    });
    const keychain = dockerKeychain({ path, env });
    assert.equal((await keychain('reg.example.com:5000'))?.username, 'v1');
    assert.equal(await keychain('reg.example.com'), undefined, 'a different port is a different registry');
    assert.equal((await keychain('other.example.com'))?.username, 'bare');
    assert.equal(await keychain('unknown.example.com'), undefined);
  });

  test('docker.io, index.docker.io and registry-1.docker.io all find the https://index.docker.io/v1/ entry', async () => {
    const path = await config('hub', {
      auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:pw') } },
    });
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      assert.equal((await dockerKeychain({ path, env })(host))?.username, 'hubuser', host);
    }
  });

  test('credHelpers[host] runs docker-credential-<name> get with the host on stdin', async () => {
    const path = await config('helpers', { credHelpers: { '127.0.0.1:5000': 'kilntest' } });
    const keychain = dockerKeychain({ path, env });
    assert.deepEqual(await keychain('127.0.0.1:5000'), { username: 'helper-user', password: 'helper-pass' });
    assert.equal(await keychain('127.0.0.2:5000'), undefined, 'no helper configured for that host');
    assert.match(await readFile(join(dir.path, 'kilntest.log'), 'utf8'), /^127\.0\.0\.1:5000$/m);
  });

  test('credsStore serves every host; Username <token> means an identity token; Hub is asked by its v1 URL', async () => {
    const path = await config('store', {
      credsStore: 'kilntest',
      auths: { 'fallback.example.com': { auth: b64('inline:pw') } },
    });
    const keychain = dockerKeychain({ path, env });
    assert.deepEqual(await keychain('docker.io'), { identityToken: 'refresh-123' });
    // The store has nothing for this host ("credentials not found"): the inline entry is used.
    assert.deepEqual(await keychain('fallback.example.com'), { username: 'inline', password: 'pw' });
    assert.match(
      await readFile(join(dir.path, 'kilntest.log'), 'utf8'),
      /^https:\/\/index\.docker\.io\/v1\/$/m,
    );
  });

  test('a helper that fails, or is not installed, is REGISTRY_CREDENTIAL_HELPER_FAILED naming it', async () => {
    const path = await config('bad', {
      credHelpers: { 'a.example.com': 'broken', 'b.example.com': 'absent' },
    });
    const keychain = dockerKeychain({ path, env });
    await assert.rejects(keychain('a.example.com'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'REGISTRY_CREDENTIAL_HELPER_FAILED');
      assert.match(e.message, /docker-credential-broken .*exited 3: dbus is down/);
      return true;
    });
    await assert.rejects(keychain('b.example.com'), /docker-credential-absent .*not found on PATH/);
  });

  test('no config file means anonymous; a broken one is DOCKER_CONFIG_INVALID naming the file', async () => {
    assert.equal(
      await dockerKeychain({ path: join(dir.path, 'missing.json'), env })('x.example.com'),
      undefined,
    );
    const path = join(dir.path, 'broken.json');
    await writeFile(path, '{"auths": ');
    await assert.rejects(dockerKeychain({ path, env })('x.example.com'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'DOCKER_CONFIG_INVALID');
      assert.ok(e.message.includes(path));
      return true;
    });
  });

  test('the config is $DOCKER_CONFIG/config.json, else ~/.docker/config.json', () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/etc/dc', HOME: '/home/u' }), '/etc/dc/config.json');
    assert.equal(dockerConfigPath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
  });
});
