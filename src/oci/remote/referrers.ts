// The OCI 1.1 referrers API (distribution-spec v1.1 "Listing Referrers", "Pushing Manifests with
// Subject"), read and written on one repository. Kept apart from manifests.ts so the upload paths
// stay untouched: this file only adds requests.
// - GET /v2/<name>/referrers/<digest> answers 200 with an OCI index when the registry has the API.
//   Anything else (404 on Debian's docker-registry 2.8, GHCR, Docker Hub) means "no API": the
//   caller then reads the referrers tag schema (`sha256-<hex>`), as go-containerregistry does
//   (pkg/v1/remote/referrers.go: a 200 with the index Content-Type, else the fallback tag).
// - A manifest PUT with a `subject` is answered with `OCI-Subject: <digest>` by registries that
//   index it (the spec's MUST). go-containerregistry's own pkg/registry never sends it, so a
//   missing header is followed by a probe of the endpoint before kiln falls back to the tag.
import { type Digest, sha256Digest } from '../digest.ts';
import { MT } from '../mediatypes.ts';
import type { Index } from '../types.ts';
import { pullScope } from './blobs.ts';
import { drain, header, readBody } from './http.ts';
import { putManifestReporting } from './manifests.ts';
import type { Transport } from './transport.ts';

/** A referrers list is an index of small descriptors; 4 MiB holds tens of thousands. */
const MAX_INDEX_BYTES = 4 << 20;

/** Statuses that mean "this registry has no referrers API" (the spec's 404; 400/405/501 from older servers). */
const NO_API = [400, 404, 405, 406, 501];

/** The referrers of `digest` from the API, or undefined when the registry has no such API. */
export async function getReferrers(t: Transport, repo: string, digest: Digest): Promise<Index | undefined> {
  const res = await t.request({
    method: 'GET',
    url: `/v2/${repo}/referrers/${digest}`,
    headers: { accept: MT.ociIndex },
    scopes: [pullScope(repo)],
    ok: [200, ...NO_API],
    ctx: { what: `referrers of ${t.registry}/${repo}@${digest}` },
  });
  const type = (header(res, 'content-type') ?? '').split(';')[0]!.trim();
  if (res.statusCode !== 200 || type !== MT.ociIndex) {
    drain(res);
    return undefined;
  }
  const body = await readBody(res, MAX_INDEX_BYTES);
  try {
    const index = JSON.parse(body.toString('utf8')) as Index;
    return Array.isArray(index.manifests) ? index : undefined;
  } catch {
    return undefined;
  }
}

/**
 * PUT a manifest (by its digest) and report the `OCI-Subject` header: set when the registry
 * indexed the manifest's subject for the referrers API.
 */
export async function putManifestWithSubject(
  t: Transport,
  repo: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<{ digest: Digest; ociSubject: string | undefined }> {
  return putManifestReporting(t, repo, sha256Digest(bytes), bytes, mediaType);
}
