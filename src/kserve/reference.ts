// A tiny local parser for digest-pinned image references (`host[:port]/repo@sha256:<64 hex>`).
// kserve/ only ever writes digests (DESIGN.md: "nothing after `image` ever refers to a tag alone"),
// so anything without a digest is refused here, before a request is made.
import { KilnError } from '../errors.ts';

export interface PinnedImage {
  /** `host[:port]/path` without tag or digest. */
  repository: string;
  /** `sha256:<64 hex>`. */
  digest: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
// A repository path: lowercase components separated by / (OCI distribution spec "name" grammar),
// optionally preceded by a registry host with a port.
const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Parse `REPO@sha256:...` (a `REPO:tag@sha256:...` form is accepted and the tag dropped: the digest wins). */
export function parsePinnedImage(ref: string): PinnedImage {
  const at = ref.indexOf('@');
  if (at < 0) {
    throw new KilnError(
      'IMAGE_NOT_PINNED',
      `image ${ref} has no digest: kiln deploys digests only, never tags`,
      {
        kind: 'usage',
        hint: 'pass the digest-pinned reference kiln bake printed, e.g. REPO@sha256:<64 hex>',
        details: { image: ref },
      },
    );
  }
  const digest = ref.slice(at + 1);
  let repository = ref.slice(0, at);
  if (!DIGEST.test(digest)) {
    throw new KilnError('IMAGE_DIGEST_INVALID', `image ${ref}: "${digest}" is not a sha256 digest`, {
      kind: 'usage',
      hint: 'a digest is sha256: followed by 64 lowercase hex characters',
      details: { image: ref },
    });
  }
  // Drop a tag (a colon after the last slash), keeping a registry port (a colon before it).
  const lastSlash = repository.lastIndexOf('/');
  const colon = repository.indexOf(':', lastSlash + 1);
  if (colon >= 0) repository = repository.slice(0, colon);
  if (!REPOSITORY.test(repository)) {
    throw new KilnError(
      'IMAGE_REFERENCE_INVALID',
      `image ${ref}: "${repository}" is not a registry repository`,
      {
        kind: 'usage',
        hint: 'use host[:port]/path@sha256:<64 hex> (lowercase path, e.g. registry.example.com/ml/model@sha256:...)',
        details: { image: ref },
      },
    );
  }
  return { repository, digest };
}

export const formatPinnedImage = (p: PinnedImage): string => `${p.repository}@${p.digest}`;

/** Accept either a full pinned reference or a bare digest; return the digest. */
export function digestOf(refOrDigest: string): string {
  return isDigest(refOrDigest) ? refOrDigest : parsePinnedImage(refOrDigest).digest;
}

/** The short form people read in tables: `sha256:` + first 12 hex. */
export const shortDigest = (digest: string): string => digest.slice(0, 19);
