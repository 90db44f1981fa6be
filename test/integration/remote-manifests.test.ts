// Manifests and tags against a real registry: put/get round trip with Content-Type and
// Docker-Content-Digest checked by an independent client (fetch), HEAD, not-found, the registry's
// own error for a manifest whose blobs are missing, and tag listing with Link pagination.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../src/oci/digest.ts';
import { MANIFEST_ACCEPT, MT } from '../../src/oci/mediatypes.ts';
import { Registry } from '../../src/oci/remote/index.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type RegistryProxy, sendJson, startProxy } from '../rig/registry-proxy.ts';

describe('registry manifests', () => {
  let rig: RegistryRig;
  let registry: Registry;
  let manifestBytes: Buffer;
  before(async () => {
    rig = await startRegistry();
    registry = new Registry(rig.host);
    const config = await registry.uploadBlob(
      'ml/model',
      Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
    );
    const layer = await registry.uploadBlob('ml/model', Buffer.from('layer bytes'));
    // Deliberately odd spacing: the digest is of these exact bytes, never of a re-serialisation.
    manifestBytes = Buffer.from(
      `{"schemaVersion":2,  "mediaType":"${MT.ociManifest}","config":{"mediaType":"${MT.ociConfig}","digest":"${config.digest}","size":${config.size}},"layers":[{"mediaType":"${MT.ociLayer}","digest":"${layer.digest}","size":${layer.size}}]}`,
    );
  });
  after(async () => {
    await rig?.stop();
  });

  test('a manifest put by tag reads back with its media type and the sha256 of the exact bytes', async () => {
    const digest = await registry.putManifest('ml/model', 'v1', manifestBytes, MT.ociManifest);
    assert.equal(digest, sha256Digest(manifestBytes));

    const got = await registry.getManifest('ml/model', 'v1');
    assert.deepEqual(got, { bytes: manifestBytes, mediaType: MT.ociManifest, digest });
    assert.deepEqual(await registry.getManifest('ml/model', digest), got);

    // What any other client sees: the stored Content-Type and Docker-Content-Digest.
    const res = await fetch(`${rig.url}/v2/ml/model/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.headers.get('content-type'), MT.ociManifest);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), manifestBytes);

    assert.deepEqual(await registry.headManifest('ml/model', 'v1'), {
      digest,
      mediaType: MT.ociManifest,
      size: manifestBytes.length,
    });
  });

  test('an index is pushed by digest and keeps its own media type', async () => {
    const child = sha256Digest(manifestBytes);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [
          {
            mediaType: MT.ociManifest,
            digest: child,
            size: manifestBytes.length,
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      }),
    );
    const digest = await registry.putManifest('ml/model', sha256Digest(index), index, MT.ociIndex);
    const got = await registry.getManifest('ml/model', digest);
    assert.equal(got.mediaType, MT.ociIndex);
    assert.equal(got.digest, digest);
  });

  test('a missing tag is MANIFEST_NOT_FOUND naming the reference; headManifest answers undefined', async () => {
    assert.equal(await registry.headManifest('ml/model', 'nope'), undefined);
    await assert.rejects(registry.getManifest('ml/model', 'nope'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MANIFEST_NOT_FOUND');
      assert.match(e.message, new RegExp(`manifest ${rig.host}/ml/model:nope`));
      return true;
    });
    await assert.rejects(registry.getManifest('ml/absent', 'v1'), { code: 'MANIFEST_NOT_FOUND' });
  });

  test("a manifest whose blobs are missing is refused with the registry's own error and status", async () => {
    const orphan = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: sha256Digest('absent config'), size: 13 },
        layers: [],
      }),
    );
    await assert.rejects(
      registry.putManifest('ml/model', 'orphan', orphan, MT.ociManifest),
      (e: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'REGISTRY_ERROR');
        assert.equal(e.details?.['status'], 400);
        const errors = e.details?.['errors'] as Array<{ code: string }>;
        assert.ok(
          errors.some((x) => x.code === 'MANIFEST_BLOB_UNKNOWN'),
          JSON.stringify(errors),
        );
        assert.match(e.message, /MANIFEST_BLOB_UNKNOWN/);
        return true;
      },
    );
  });

  test("Content-Type must match the manifest's mediaType (refused before sending)", async () => {
    await assert.rejects(registry.putManifest('ml/model', 'v2', manifestBytes, MT.dockerManifest), {
      code: 'MANIFEST_INVALID',
    });
    assert.equal(await registry.headManifest('ml/model', 'v2'), undefined);
  });

  test('listTags returns every tag, following Link pagination', async () => {
    const m = JSON.parse(manifestBytes.toString()) as {
      config: { digest: `sha256:${string}` };
      layers: Array<{ digest: `sha256:${string}` }>;
    };
    for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
      assert.equal(await registry.mountBlob('ml/tags', d, 'ml/model'), true);
    }
    for (const tag of ['a', 'b', 'c', 'd', 'e'])
      await registry.putManifest('ml/tags', tag, manifestBytes, MT.ociManifest);
    assert.deepEqual((await registry.listTags('ml/tags')).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(await registry.listTags('ml/never-pushed'), []);

    // 2.8.2 ignores n= and never paginates; a proxy serves the same list two tags per page.
    const pages: string[] = [];
    const proxy: RegistryProxy = await startProxy(rig.host, async (req, res, forward) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!url.pathname.endsWith('/tags/list')) return forward();
      pages.push(url.search);
      const all = (
        (await (await fetch(`${rig.url}${url.pathname}`)).json()) as { tags: string[] }
      ).tags.sort();
      const last = url.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + 2);
      const more = start + 2 < all.length;
      sendJson(
        res,
        200,
        { name: 'ml/tags', tags: page },
        more ? { link: `</v2/ml/tags/tags/list?n=2&last=${page.at(-1)}>; rel="next"` } : {},
      );
    });
    try {
      assert.deepEqual(await new Registry(proxy.host).listTags('ml/tags'), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(pages, ['', '?n=2&last=b', '?n=2&last=d']);
    } finally {
      await proxy.stop();
    }
  });
});
