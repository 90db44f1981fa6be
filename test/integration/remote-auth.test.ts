// Basic auth against a real htpasswd-protected registry, with credentials given directly, read
// from a Docker config file, and served by a real credential helper executable on PATH.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dockerKeychain, Registry, staticCredentials } from '../../src/oci/remote/index.ts';
import { tempDir } from '../rig/proc.ts';
import { hashStream, randomStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

const USER = 'kiln';
const PASSWORD = 'correct horse';

describe('registry basic auth', () => {
  let rig: RegistryRig;
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    rig = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    dir = await tempDir('remote-auth');
  });
  after(async () => {
    await rig?.stop();
    await dir?.remove();
  });

  const withPassword = (password: string) =>
    new Registry({
      registry: rig.host,
      credentials: staticCredentials({ [rig.host]: { username: USER, password } }),
    });

  test('the right password pushes a streamed blob and reads it back', async () => {
    const registry = withPassword(PASSWORD);
    const src = randomStream(3 << 20);
    const pushed = await registry.uploadBlobStream('ml/auth', src.stream);
    assert.equal(pushed.digest, src.digest());
    assert.deepEqual(await hashStream(await registry.getBlob('ml/auth', pushed.digest)), {
      digest: src.digest(),
      size: 3 << 20,
    });
  });

  test('a wrong password is REGISTRY_AUTH_FAILED naming the registry and the user, pointing at docker login', async () => {
    await assert.rejects(
      withPassword('wrong').uploadBlob('ml/auth', Buffer.from('x')),
      (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
        assert.match(e.message, new RegExp(`registry ${rig.host} rejected the credentials for user "kiln"`));
        assert.match(e.hint ?? '', /docker login/);
        assert.match(e.hint ?? '', /config\.json/);
        return true;
      },
    );
  });

  test('no credentials at all is REGISTRY_AUTH_FAILED saying none were found', async () => {
    const anonymous = new Registry({ registry: rig.host, credentials: staticCredentials({}) });
    await assert.rejects(anonymous.getManifest('ml/auth', 'v1'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'REGISTRY_AUTH_FAILED');
      assert.match(e.message, /no credentials found/);
      return true;
    });
  });

  test('credentials come from a Docker config file (auths, https://host/v1/ key)', async () => {
    const path = join(dir.path, 'config.json');
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    await writeFile(path, JSON.stringify({ auths: { [`https://${rig.host}/v1/`]: { auth } } }));
    const registry = new Registry({ registry: rig.host, credentials: dockerKeychain({ path, env: {} }) });
    const { digest } = await registry.uploadBlob('ml/from-config', Buffer.from('from config'));
    assert.deepEqual(await registry.headBlob('ml/from-config', digest), { size: 11 });
  });

  test('credentials come from a credential helper (credHelpers), asked once for the host', async () => {
    const bin = join(dir.path, 'bin');
    await mkdir(bin, { recursive: true });
    const log = join(dir.path, 'helper.log');
    const helper = join(bin, 'docker-credential-kilnrig');
    await writeFile(
      helper,
      `#!/bin/sh\n[ "$1" = get ] || exit 2\nhost=$(cat)\necho "$host" >> ${log}\nprintf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$host"\n`,
    );
    await chmod(helper, 0o755);
    const path = join(dir.path, 'helper-config.json');
    await writeFile(path, JSON.stringify({ credHelpers: { [rig.host]: 'kilnrig' } }));
    const env = { PATH: `${bin}:${process.env['PATH']}` };
    const registry = new Registry({ registry: rig.host, credentials: dockerKeychain({ path, env }) });
    const { digest } = await registry.uploadBlob('ml/from-helper', Buffer.from('from helper'));
    assert.equal((await registry.getBlobBytes('ml/from-helper', digest)).toString(), 'from helper');
    assert.equal(await readFile(log, 'utf8'), `${rig.host}\n`);
  });
});
