// Issue 2 acceptance: the registry rig really works. A blob pushed to the Debian docker-registry
// can be read back byte for byte, and the htpasswd-protected variant rejects a wrong password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../src/oci/digest.ts';
import { Registry, staticCredentials } from '../../src/oci/remote/index.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

describe('registry rig', () => {
  let open: RegistryRig;
  let locked: RegistryRig;
  before(async () => {
    [open, locked] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { username: 'kiln', password: 's3cret' } }),
    ]);
  });
  after(async () => {
    await Promise.all([open?.stop(), locked?.stop()]);
  });

  test('a blob pushed to the registry can be read back', async () => {
    const registry = new Registry(open.host);
    const bytes = Buffer.from(`rig check ${Date.now()}`);
    const pushed = await registry.uploadBlob('rig/check', bytes);
    assert.equal(pushed.digest, sha256Digest(bytes));
    // Read it with plain fetch too: the rig must work for any client, not only kiln's.
    const res = await fetch(`${open.url}/v2/rig/check/blobs/${pushed.digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    assert.deepEqual(await registry.getBlobBytes('rig/check', pushed.digest), bytes);
  });

  test('basic auth accepts the right password and rejects a wrong one', async () => {
    const right = new Registry({
      registry: locked.host,
      credentials: staticCredentials({ [locked.host]: { username: 'kiln', password: 's3cret' } }),
    });
    const { digest } = await right.uploadBlob('rig/locked', Buffer.from('locked'));
    assert.deepEqual(await right.headBlob('rig/locked', digest), { size: 6 });

    const wrong = new Registry({
      registry: locked.host,
      credentials: staticCredentials({ [locked.host]: { username: 'kiln', password: 'wrong' } }),
    });
    await assert.rejects(wrong.headBlob('rig/locked', digest), { code: 'REGISTRY_AUTH_FAILED' });
    const anonymous = await fetch(`${locked.url}/v2/rig/locked/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(anonymous.status, 401);
  });
});
