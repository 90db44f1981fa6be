// bench/floor: MLflow's artifact stream into a registry upload by the simplest node program that
// also computes the digests an image of these bytes cannot do without, and nothing else (no tar,
// no progress, no scan, no manifests). Not a strict bound (V8 collects this program's buffers with
// mark-compacts, as it has little other garbage), but what the digests alone cost here.
//   none: the file's sha256 (kiln's provenance and scan approvals name files by it) and the layer's
//         (rootfs.diff_ids and the blob digest: one value when uncompressed), two passes;
//   zstd: the same two, kiln's own zstd stages (src/oci/layer/compress.ts), and the blob's sha256.
// bench/bake.ts runs it beside the pipe and kiln: the pipe minus this floor is what the digests
// cost on this machine, and kiln minus the floor is what kiln's own work (tar, image, checks) costs.
//   node bench/floor.ts SOURCE_URL REGISTRY_URL REPO none|zstd
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressor } from '../src/oci/layer/compress.ts';

const [source, registry, repo, compression] = process.argv.slice(2);
if (!source || !registry || !repo || (compression !== 'none' && compression !== 'zstd')) {
  throw new Error('usage: node bench/floor.ts SOURCE_URL REGISTRY_URL REPO none|zstd');
}

const started = await fetch(`${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
if (started.status !== 202) throw new Error(`POST upload: ${started.status}`);
const session = new URL(started.headers.get('location') ?? '', registry);

const download = await new Promise<http.IncomingMessage>((ok, fail) =>
  http.get(source, ok).on('error', fail),
);
if (download.statusCode !== 200) throw new Error(`GET ${source}: ${download.statusCode}`);
const upload = http.request(session, {
  method: 'PATCH',
  headers: { 'content-type': 'application/octet-stream' },
});
const answered = new Promise<http.IncomingMessage>((ok, fail) => {
  upload.on('response', ok).on('error', fail);
});

/** A stage that hashes what passes through with `n` sha256 passes, in place (no copy). */
const hashing = (n: number) => {
  const hashes = Array.from({ length: n }, () => createHash('sha256'));
  const stage = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      for (const h of hashes) h.update(chunk);
      cb(null, chunk);
    },
  });
  return { stage, digest: () => `sha256:${hashes.at(-1)?.digest('hex')}` };
};

const file = hashing(2); // the file's digest and the layer's (diff_id)
let blob = file;
if (compression === 'zstd') {
  blob = hashing(1);
  await pipeline([download, file.stage, ...compressor('zstd'), blob.stage, upload]);
} else {
  await pipeline(download, file.stage, upload);
}

const patched = await answered;
patched.resume();
if (patched.statusCode !== 202) throw new Error(`PATCH upload: ${patched.statusCode}`);
const commit = new URL(patched.headers.location ?? '', registry);
commit.searchParams.set('digest', blob.digest());
const done = await fetch(commit, { method: 'PUT' });
if (done.status !== 201) throw new Error(`PUT ${commit}: ${done.status} ${await done.text()}`);
