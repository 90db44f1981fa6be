// Interop with a reference client (go-containerregistry's crane): what kiln pushes crane
// validates (digests, diff_ids), and what crane pushes kiln reads and verifies.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { Registry } from '../../src/oci/remote/index.ts';
import type { Manifest } from '../../src/oci/types.ts';
import { run, tempDir, toolPath } from '../rig/proc.ts';
import { hashStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

describe('interop with crane', () => {
  let rig: RegistryRig;
  let dir: { path: string; remove: () => Promise<void> };
  let layerTar: string;
  before(async () => {
    rig = await startRegistry();
    dir = await tempDir('interop');
    await writeFile(join(dir.path, 'hello.txt'), 'hello from kiln\n');
    layerTar = join(dir.path, 'layer.tar');
    await run('tar', ['-cf', layerTar, '-C', dir.path, 'hello.txt']);
  });
  after(async () => {
    await rig?.stop();
    await dir?.remove();
  });

  test('an image kiln pushes is valid for crane, at the digest kiln computed', async () => {
    const registry = new Registry(rig.host);
    const tar = await readFile(layerTar);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const layer = await registry.uploadBlob('interop/kiln', gzipSync(tar));
    const config = await registry.uploadBlob(
      'interop/kiln',
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: {},
          rootfs: { type: 'layers', diff_ids: [diffId] },
        }),
      ),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: config.digest, size: config.size },
        layers: [{ mediaType: MT.ociLayerGzip, digest: layer.digest, size: layer.size }],
      }),
    );
    const digest = await registry.putManifest('interop/kiln', 'v1', manifest, MT.ociManifest);
    const ref = `${rig.host}/interop/kiln:v1`;
    assert.equal((await run(toolPath('crane'), ['digest', '--insecure', ref])).stdout.trim(), digest);
    assert.match((await run(toolPath('crane'), ['validate', '--insecure', '--remote', ref])).stdout, /^PASS/);
  });

  test('an image crane pushes is read and verified by kiln', async () => {
    const ref = `${rig.host}/interop/crane:v1`;
    await run(toolPath('crane'), ['append', '--insecure', '-f', layerTar, '-t', ref]);
    const craneDigest = (await run(toolPath('crane'), ['digest', '--insecure', ref])).stdout.trim();
    const registry = new Registry(rig.host);
    const got = await registry.getManifest('interop/crane', 'v1');
    assert.equal(got.digest, craneDigest);
    const manifest = JSON.parse(got.bytes.toString('utf8')) as Manifest;
    assert.equal(got.mediaType, manifest.mediaType);
    const config = JSON.parse(
      (await registry.getBlobBytes('interop/crane', manifest.config.digest)).toString(),
    ) as {
      rootfs: { diff_ids: Digest[] };
    };
    assert.equal(config.rootfs.diff_ids.length, 1);
    for (const l of manifest.layers) {
      assert.deepEqual(await hashStream(await registry.getBlob('interop/crane', l.digest)), {
        digest: l.digest,
        size: l.size,
      });
    }
    assert.deepEqual(await registry.listTags('interop/crane'), ['v1']);
  });
});
