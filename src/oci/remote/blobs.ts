// Reading blobs and mounting them across repositories (distribution-spec "Pulling blobs",
// "Mounting a blob from another repository"). Uploads are in upload.ts.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { KilnError } from '../../errors.ts';
import type { Digest } from '../digest.ts';
import { drain, header, readBody } from './http.ts';
import type { Transport } from './transport.ts';
import { DigestVerifier, digestLike, digestMismatch } from './verify.ts';

export const pullScope = (repo: string): string => `repository:${repo}:pull`;
export const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

const blobWhat = (t: Transport, repo: string, digest: Digest): string =>
  `blob ${t.registry}/${repo}@${digest}`;
const blobNotFound = (t: Transport, repo: string, digest: Digest) => ({
  what: blobWhat(t, repo, digest),
  notFound: {
    code: 'BLOB_NOT_FOUND',
    hint: `check the repository name and digest; a blob exists only in repositories it was pushed or mounted to on ${t.registry}`,
  },
});

/** `{size}` when the repository holds the blob, undefined when it does not. */
export async function headBlob(
  t: Transport,
  repo: string,
  digest: Digest,
): Promise<{ size: number } | undefined> {
  const res = await t.request({
    method: 'HEAD',
    url: `/v2/${repo}/blobs/${digest}`,
    scopes: [pullScope(repo)],
    ok: [200, 404],
    ctx: { what: blobWhat(t, repo, digest) },
  });
  drain(res);
  if (res.statusCode === 404) return undefined;
  return { size: Number(header(res, 'content-length') ?? -1) };
}

/** GET a blob (404 -> BLOB_NOT_FOUND naming it); callers read the body their own way. */
function blobResponse(t: Transport, repo: string, digest: Digest) {
  return t.request({
    method: 'GET',
    url: `/v2/${repo}/blobs/${digest}`,
    scopes: [pullScope(repo)],
    ok: [200],
    ctx: blobNotFound(t, repo, digest),
  });
}

/** The blob as a stream, verified as it flows: it errors with DIGEST_MISMATCH at the end on bad content. */
export async function getBlob(
  t: Transport,
  repo: string,
  digest: Digest,
  expectedSize?: number,
): Promise<Readable> {
  const res = await blobResponse(t, repo, digest);
  return pipeline(res, new DigestVerifier(digest, blobWhat(t, repo, digest), expectedSize), () => {});
}

/** A small blob (an image config, a signature payload) in memory, verified; refuses more than `maxBytes`. */
export async function getBlobBytes(
  t: Transport,
  repo: string,
  digest: Digest,
  maxBytes = 16 << 20,
): Promise<Buffer> {
  const res = await blobResponse(t, repo, digest);
  const bytes = await readBody(res, maxBytes).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'BODY_TOO_LARGE') throw e;
    throw new KilnError('BLOB_TOO_LARGE', `${blobWhat(t, repo, digest)} is larger than ${maxBytes} bytes`, {
      hint: 'this blob is read into memory; stream it with getBlob instead',
      details: { maxBytes },
    });
  });
  const actual = digestLike(bytes, digest);
  if (actual !== digest) throw digestMismatch(blobWhat(t, repo, digest), digest, actual);
  return bytes;
}

/**
 * Ask the registry to link a blob from `fromRepo` into `repo` without sending it: true when
 * mounted (201). 202 means the registry opened an upload session instead (blob unknown there, or
 * mounting unsupported): kiln cancels that session and the caller uploads.
 */
export async function mountBlob(
  t: Transport,
  repo: string,
  digest: Digest,
  fromRepo: string,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from: fromRepo });
  const res = await t.request({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?${query}`,
    scopes: [pushScope(repo), pullScope(fromRepo)],
    ok: [201, 202],
    ctx: { what: `mount of ${digest} from ${fromRepo} into ${t.registry}/${repo}` },
    idempotent: true, // a repeated mount links the same blob, or opens one more session we cancel
  });
  drain(res);
  if (res.statusCode === 201) return true;
  const location = header(res, 'location');
  if (location) await cancelUpload(t, repo, location);
  return false;
}

/** Best effort: an abandoned session is garbage-collected by the registry anyway. */
export async function cancelUpload(t: Transport, repo: string, location: string): Promise<void> {
  try {
    const res = await t.request({
      method: 'DELETE',
      url: new URL(location, t.base),
      scopes: [pushScope(repo)],
      ok: [200, 202, 204, 404],
      ctx: { what: `cancelling an upload to ${repo}` },
    });
    drain(res);
  } catch {
    // ignored: nothing useful to tell the user
  }
}
