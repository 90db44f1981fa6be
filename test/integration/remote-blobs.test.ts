// Blobs against a real registry: streamed single-pass upload of a large generated blob, read back
// verified; HEAD-skip; mounts; digest checks; a failing source. A pass-through proxy records the
// requests where a test must see what went over the wire.
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { HashingStream, sha256Digest } from '../../src/oci/digest.ts';
import { Registry } from '../../src/oci/remote/index.ts';
import { hashStream, randomStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { type RegistryProxy, startProxy } from '../rig/registry-proxy.ts';

const SIZE = 64 * 1024 * 1024 + 12_345; // not chunk-aligned on purpose

/** A source that records whether anyone read it. */
function untouchedSource(): { stream: Readable; reads: () => number } {
  let reads = 0;
  const stream = new Readable({
    read() {
      reads++;
      this.push(Buffer.from('must not be sent'));
      this.push(null);
    },
  });
  return { stream, reads: () => reads };
}

describe('registry blobs', () => {
  let rig: RegistryRig;
  let proxy: RegistryProxy;
  let registry: Registry;
  before(async () => {
    rig = await startRegistry();
    proxy = await startProxy(rig.host);
    registry = new Registry(rig.host);
  });
  after(async () => {
    await proxy?.stop();
    await rig?.stop();
  });

  test('a 64 MiB generated stream is pushed in one PATCH and reads back with the same digest', async () => {
    const viaProxy = new Registry(proxy.host);
    const source = randomStream(SIZE);
    proxy.seen.length = 0;
    const pushed = await viaProxy.uploadBlobStream('ml/big', source.stream);
    assert.equal(pushed.digest, source.digest());
    assert.equal(pushed.size, SIZE);
    assert.equal(pushed.existed, false);
    const methods = proxy.seen.map((r) => r.method);
    assert.deepEqual(methods, ['POST', 'PATCH', 'PUT'], 'session, one PATCH, commit');
    const patch = proxy.seen[1]!;
    assert.equal(patch.headers['content-range'], undefined);
    assert.equal(patch.headers['transfer-encoding'], 'chunked');
    assert.match(patch.headers['user-agent'] ?? '', /^kiln\/\S+ node\//);
    assert.match(proxy.seen[2]!.url, new RegExp(`[?&]digest=${encodeURIComponent(source.digest())}`));

    // The registry agrees on digest and size (read by an independent client).
    const head = await fetch(`${rig.url}/v2/ml/big/blobs/${source.digest()}`, { method: 'HEAD' });
    assert.equal(head.headers.get('docker-content-digest'), source.digest());
    assert.equal(head.headers.get('content-length'), String(SIZE));
    assert.deepEqual(await hashStream(await registry.getBlob('ml/big', pushed.digest)), {
      digest: source.digest(),
      size: SIZE,
    });
  });

  test('a body already hashed upstream (hashedBy) is committed with that digest, not hashed again', async () => {
    // The layer builder hashes the blob as it makes it; progress counters sit between it and the upload.
    const source = randomStream(SIZE);
    const hashing = new HashingStream();
    const counted = source.stream.pipe(hashing).pipe(new PassThrough());
    const pushed = await registry.uploadBlobStream('ml/hashed', counted, { hashedBy: hashing });
    assert.deepEqual(pushed, { digest: source.digest(), size: SIZE, existed: false });

    // Proof that the upload trusts hashedBy rather than hashing again: a wrong claim reaches the
    // registry, which refuses it, and nothing is stored under either digest.
    const bytes = Buffer.from('honest bytes');
    const liar = { digest: () => sha256Digest('other bytes'), size: bytes.length };
    await assert.rejects(
      registry.uploadBlobStream('ml/hashed-wrong', Readable.from([bytes]), { hashedBy: liar }),
      (e: Error & { code?: string }) => e.code === 'DIGEST_MISMATCH',
    );
    assert.equal(await registry.headBlob('ml/hashed-wrong', sha256Digest(bytes)), undefined);
  });

  test('a blob already present is not uploaded again (HEAD, then skip)', async () => {
    const bytes = Buffer.from('already here');
    const first = await registry.uploadBlob('ml/skip', bytes);
    assert.equal(first.existed, false);
    assert.equal((await registry.uploadBlob('ml/skip', bytes)).existed, true);

    const src = untouchedSource();
    const again = await registry.uploadBlobStream('ml/skip', src.stream, {
      expected: { digest: first.digest, size: bytes.length },
    });
    assert.deepEqual(again, { digest: first.digest, size: bytes.length, existed: true });
    assert.equal(src.reads(), 0);
    assert.equal(src.stream.destroyed, true);
  });

  test('headBlob answers undefined for a missing blob and getBlob names it in BLOB_NOT_FOUND', async () => {
    const missing = sha256Digest('never pushed');
    assert.equal(await registry.headBlob('ml/skip', missing), undefined);
    await assert.rejects(registry.getBlob('ml/skip', missing), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BLOB_NOT_FOUND');
      assert.match(e.message, new RegExp(`${rig.host}/ml/skip@${missing}`));
      return true;
    });
  });

  test('a blob is mounted from another repository (201) without sending it', async () => {
    const { digest } = await registry.uploadBlob('ml/source', Buffer.from('base layer'));
    proxy.seen.length = 0;
    const viaProxy = new Registry(proxy.host);
    assert.equal(await viaProxy.mountBlob('ml/target', digest, 'ml/source'), true);
    assert.deepEqual(
      proxy.seen.map((r) => r.method),
      ['POST'],
    );
    assert.deepEqual(await registry.headBlob('ml/target', digest), { size: 10 });
  });

  test('mounting a blob the source does not hold answers false and cancels the session (202 + DELETE)', async () => {
    proxy.seen.length = 0;
    const viaProxy = new Registry(proxy.host);
    assert.equal(await viaProxy.mountBlob('ml/target', sha256Digest('nowhere'), 'ml/source'), false);
    assert.deepEqual(
      proxy.seen.map((r) => r.method),
      ['POST', 'DELETE'],
    );
    const session = await fetch(`${rig.url}${proxy.seen[1]!.url}`);
    assert.equal(session.status, 404, 'the cancelled session is gone');
  });

  test('an upload whose content differs from the expected digest fails with DIGEST_MISMATCH and stores nothing', async () => {
    const claimed = sha256Digest('what the caller promised');
    const actual = Buffer.from('what the stream held');
    await assert.rejects(
      registry.uploadBlobStream('ml/mismatch', Readable.from([actual]), {
        expected: { digest: claimed, size: 24 },
      }),
      { code: 'DIGEST_MISMATCH' },
    );
    assert.equal(await registry.headBlob('ml/mismatch', sha256Digest(actual)), undefined);
    assert.equal(await registry.headBlob('ml/mismatch', claimed), undefined);
  });

  test('a source stream that breaks mid-upload surfaces its own error and the session is cancelled', async () => {
    proxy.seen.length = 0;
    const viaProxy = new Registry(proxy.host);
    let sent = 0;
    const broken = new Readable({
      read() {
        if (sent >= 4 << 20) {
          this.destroy(Object.assign(new Error('MLflow download reset'), { code: 'ECONNRESET' }));
          return;
        }
        sent += 1 << 20;
        this.push(Buffer.alloc(1 << 20, 7));
      },
    });
    await assert.rejects(viaProxy.uploadBlobStream('ml/broken', broken), (e: Error & { code?: string }) => {
      // The caller's own error, unwrapped: not blamed on the registry as REGISTRY_UNREACHABLE.
      assert.equal(e.message, 'MLflow download reset');
      assert.equal(e.code, 'ECONNRESET');
      return true;
    });
    assert.ok(
      proxy.seen.some((r) => r.method === 'DELETE'),
      'the upload session was cancelled',
    );
    assert.equal(proxy.seen.filter((r) => r.method === 'PATCH').length, 1, 'a stream is never re-sent');
  });

  test('getBlobBytes refuses a blob over its size cap', async () => {
    const { digest } = await registry.uploadBlob('ml/cap', Buffer.alloc(4096, 1));
    assert.equal((await registry.getBlobBytes('ml/cap', digest)).length, 4096);
    await assert.rejects(registry.getBlobBytes('ml/cap', digest, 1024), { code: 'BLOB_TOO_LARGE' });
  });
});
