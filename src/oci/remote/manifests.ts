// Manifests (distribution-spec "Pulling manifests", "Pushing manifests"); tags are in tags.ts.
// A manifest's digest is the sha256 of its exact bytes: kiln hashes what it got or sent and
// compares it with the reference and with the registry's Docker-Content-Digest.
import { KilnError } from '../../errors.ts';
import { type Digest, isDigest, sha256Digest } from '../digest.ts';
import { MANIFEST_ACCEPT } from '../mediatypes.ts';
import { pullScope, pushScope } from './blobs.ts';
import { drain, header, readBody } from './http.ts';
import type { Transport } from './transport.ts';
import { digestLike, digestMismatch } from './verify.ts';

/** OCI image-spec: registries may refuse manifests over 4 MiB, so kiln reads no more. */
export const MAX_MANIFEST_BYTES = 4 << 20;

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

const refWhat = (t: Transport, repo: string, ref: string): string =>
  `manifest ${t.registry}/${repo}${isDigest(ref) ? '@' : ':'}${ref}`;

function manifestCtx(t: Transport, repo: string, ref: string) {
  return {
    what: refWhat(t, repo, ref),
    notFound: {
      code: 'MANIFEST_NOT_FOUND',
      hint: `check the repository and ${isDigest(ref) ? 'digest' : 'tag'}; list tags with \`crane ls ${t.registry}/${repo}\``,
    },
  };
}

/** Content-Type without parameters; falls back to the JSON's own mediaType when the header is generic. */
function mediaTypeOf(contentType: string | undefined, bytes?: Buffer): string {
  const ct = (contentType ?? '').split(';')[0]!.trim();
  if (ct && ct !== 'application/json' && ct !== 'text/plain' && ct !== 'application/octet-stream') return ct;
  try {
    const mt = (JSON.parse(bytes?.toString('utf8') ?? '') as { mediaType?: unknown }).mediaType;
    if (typeof mt === 'string') return mt;
  } catch {
    // not JSON: keep the header
  }
  return ct;
}

export async function getManifest(t: Transport, repo: string, ref: string): Promise<FetchedManifest> {
  const res = await t.request({
    method: 'GET',
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [pullScope(repo)],
    ok: [200],
    ctx: manifestCtx(t, repo, ref),
  });
  const bytes = await readBody(res, MAX_MANIFEST_BYTES);
  const what = refWhat(t, repo, ref);
  const digest = digestLike(bytes, isDigest(ref) ? ref : undefined);
  if (isDigest(ref) && digest !== ref) throw digestMismatch(what, ref, digest);
  const claimed = header(res, 'docker-content-digest');
  if (claimed?.startsWith('sha256:') && claimed !== sha256Digest(bytes)) {
    throw digestMismatch(`${what} (Docker-Content-Digest)`, claimed, sha256Digest(bytes));
  }
  return { bytes, mediaType: mediaTypeOf(header(res, 'content-type'), bytes), digest };
}

export async function headManifest(
  t: Transport,
  repo: string,
  ref: string,
): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
  const res = await t.request({
    method: 'HEAD',
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [pullScope(repo)],
    ok: [200, 404],
    ctx: manifestCtx(t, repo, ref),
  });
  drain(res);
  if (res.statusCode === 404) return undefined;
  const claimed = header(res, 'docker-content-digest');
  if (!claimed || !isDigest(claimed)) {
    // Some registries omit the header on HEAD: fetch and hash instead of trusting nothing.
    const m = await getManifest(t, repo, ref);
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
  }
  return {
    digest: claimed,
    mediaType: mediaTypeOf(header(res, 'content-type')),
    size: Number(header(res, 'content-length') ?? -1),
  };
}

/** Push `bytes` exactly as given under `ref` (a tag, or its own digest); returns the digest. */
export async function putManifest(
  t: Transport,
  repo: string,
  ref: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<Digest> {
  return (await putManifestReporting(t, repo, ref, bytes, mediaType)).digest;
}

/**
 * putManifest that also reports the `OCI-Subject` header: set when the registry indexed the
 * manifest's subject for the referrers API (OCI distribution spec 1.1, "Pushing manifests with subject").
 */
export async function putManifestReporting(
  t: Transport,
  repo: string,
  ref: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<{ digest: Digest; ociSubject: string | undefined }> {
  const digest = sha256Digest(bytes);
  const what = refWhat(t, repo, ref);
  if (isDigest(ref) && ref !== digest) throw digestMismatch(`${what} (push by digest)`, ref, digest);
  let inner: unknown;
  try {
    inner = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown }).mediaType;
  } catch (e) {
    throw new KilnError('MANIFEST_INVALID', `${what} is not JSON`, { kind: 'usage', cause: e });
  }
  if (inner !== undefined && inner !== mediaType) {
    // Content-Type must be the manifest's own mediaType, or registries store it under the wrong type.
    throw new KilnError(
      'MANIFEST_INVALID',
      `${what}: Content-Type ${mediaType} differs from its mediaType ${String(inner)}`,
      {
        kind: 'usage',
        hint: 'pass the mediaType written in the manifest',
      },
    );
  }
  const res = await t.request({
    method: 'PUT',
    url: `/v2/${repo}/manifests/${ref}`,
    headers: { 'content-type': mediaType },
    body: bytes,
    scopes: [pushScope(repo)],
    ok: [201, 200],
    ctx: { what },
  });
  drain(res);
  const stored = header(res, 'docker-content-digest');
  if (stored && stored !== digest) throw digestMismatch(`${what} (Docker-Content-Digest)`, digest, stored);
  return { digest, ociSubject: header(res, 'oci-subject') };
}
