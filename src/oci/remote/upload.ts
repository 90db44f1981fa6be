// Blob uploads (distribution-spec "Pushing blobs"). Streams go in ONE pass: POST opens a session,
// ONE chunked PATCH carries the whole body (no Content-Range: it is the only chunk) while kiln
// hashes it, then `PUT <newest Location>&digest=` with an empty body commits it. The body is
// pulled with backpressure, so memory stays flat whatever the size (FIELD-NOTES: a 1 GiB push).
// Never a one-shot `POST ?digest=`: registry 2.8.2 answers it 202 and waits for more.
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { isKilnError, KilnError } from '../../errors.ts';
import { type Digest, HashingStream, hashedOnTheWay, type StreamDigest, sha256Digest } from '../digest.ts';
import { cancelUpload, headBlob, pushScope } from './blobs.ts';
import { drain, header } from './http.ts';
import type { Transport } from './transport.ts';
import { digestMismatch } from './verify.ts';

export interface UploadResult {
  digest: Digest;
  size: number;
  /** The registry already had it (HEAD answered 200): nothing was sent. */
  existed: boolean;
}

export interface StreamUploadOptions {
  /** Known digest and size: HEAD first and skip the upload when present; after the upload, must match. */
  expected?: { digest: Digest; size: number };
  /**
   * On abort the body is ended early rather than torn down, so the registry answers the PATCH
   * with a fresh session state; kiln then DELETEs the session (distribution 2.8 refuses a DELETE
   * whose state offset is stale, so tearing the connection down would leave the session open).
   */
  signal?: AbortSignal | undefined;
  /** Already hashing exactly these bytes (see BlobStreamOptions): not hashed a second time. */
  hashedBy?: StreamDigest | undefined;
}

export async function uploadBlob(t: Transport, repo: string, body: Uint8Array): Promise<UploadResult> {
  const digest = sha256Digest(body);
  const have = await headBlob(t, repo, digest);
  if (have) return { digest, size: body.length, existed: true };
  const location = await startUpload(t, repo);
  // Small blobs go monolithically (POST, then PUT with the body): a replayable request, so retried.
  await commitUpload(t, repo, location, digest, body);
  return { digest, size: body.length, existed: false };
}

export async function uploadBlobStream(
  t: Transport,
  repo: string,
  source: Readable,
  opts: StreamUploadOptions = {},
): Promise<UploadResult> {
  const { expected } = opts;
  if (expected && (await headBlob(t, repo, expected.digest))) {
    source.destroy(); // the caller handed the stream over; nobody will read it now
    return { ...expected, existed: true };
  }
  let location = await startUpload(t, repo).catch((e: unknown) => {
    source.destroy();
    throw e;
  });
  const gated = opts.signal ? stoppable(source, opts.signal) : source;
  const { stream: body, hash: hashing } = hashedOnTheWay(
    gated,
    opts.hashedBy ?? (source instanceof HashingStream ? source : undefined),
  );
  try {
    const res = await t.request({
      method: 'PATCH',
      url: new URL(location, t.base),
      headers: { 'content-type': 'application/octet-stream' },
      body,
      scopes: [pushScope(repo)],
      ok: [202, 204],
      ctx: { what: `blob upload to ${t.registry}/${repo}` },
    });
    drain(res);
    location = header(res, 'location') ?? location; // always continue at the newest Location
    opts.signal?.throwIfAborted();
    const digest = hashing.digest();
    if (expected && (expected.digest !== digest || expected.size !== hashing.size)) {
      throw digestMismatch(
        `blob upload to ${t.registry}/${repo}`,
        `${expected.digest} (${expected.size} bytes)`,
        `${digest} (${hashing.size} bytes)`,
      );
    }
    await commitUpload(t, repo, location, digest);
    return { digest, size: hashing.size, existed: false };
  } catch (e) {
    source.destroy();
    await cancelUpload(t, repo, location);
    throw e;
  }
}

/** `source` piped into a stream that ends cleanly (not with an error) when `signal` aborts. */
function stoppable(source: Readable, signal: AbortSignal): Readable {
  const gate = new PassThrough();
  const stop = (): void => {
    source.unpipe(gate);
    gate.end();
    source.destroy();
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  source.on('error', (e) => {
    if (!signal.aborted) gate.destroy(e);
  });
  source.pipe(gate);
  gate.on('close', () => signal.removeEventListener('abort', stop));
  return gate;
}

/** POST a new upload session; its Location (maybe relative, maybe with a query) is where data goes. */
export async function startUpload(t: Transport, repo: string): Promise<string> {
  const res = await t.request({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/`,
    scopes: [pushScope(repo)],
    ok: [202],
    ctx: { what: `starting a blob upload to ${t.registry}/${repo}` },
    idempotent: true, // a repeated POST only opens another session
  });
  drain(res);
  const location = header(res, 'location');
  if (!location) {
    throw new KilnError(
      'REGISTRY_ERROR',
      `registry ${t.registry} opened an upload session without a Location header`,
      {
        hint: 'the registry (or a proxy in front of it) is not OCI distribution-spec compliant',
        details: { registry: t.registry, status: res.statusCode },
      },
    );
  }
  return location;
}

async function commitUpload(t: Transport, repo: string, location: string, digest: Digest, body?: Uint8Array) {
  const url = new URL(location, t.base);
  url.searchParams.set('digest', digest);
  const what = `blob upload of ${digest} to ${t.registry}/${repo}`;
  try {
    const res = await t.request({
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/octet-stream' },
      body: body ?? new Uint8Array(0),
      scopes: [pushScope(repo)],
      ok: [201, 204],
      ctx: { what },
    });
    drain(res);
    const stored = header(res, 'docker-content-digest');
    if (stored && stored !== digest) throw digestMismatch(what, digest, stored);
  } catch (e) {
    // The registry hashed different bytes than kiln sent: corruption on the way.
    const errors = isKilnError(e, 'REGISTRY_ERROR') ? (e.details['errors'] as Array<{ code: string }>) : [];
    if (errors.some((x) => x.code === 'DIGEST_INVALID'))
      throw digestMismatch(what, digest, 'a different digest at the registry');
    throw e;
  }
}
