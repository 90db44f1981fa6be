import { KilnError } from '../errors.ts';
import { type Digest, isDigest } from './digest.ts';

// Image references as Docker and every registry client spell them:
// [host[:port]/]path[:tag][@digest] (distribution/reference `reference.go` grammar).

export interface ImageReference {
  /** Registry host as written, e.g. `registry.example.com`, `127.0.0.1:5000`; `docker.io` when omitted. */
  registry: string;
  /** Repository path inside the registry, e.g. `ml/risk-classifier` (`library/x` on Docker Hub). */
  repository: string;
  tag: string | undefined;
  digest: Digest | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

export function parseReference(input: string): ImageReference {
  const bad = (why: string): KilnError =>
    new KilnError('REFERENCE_INVALID', `image reference "${input}" is invalid: ${why}`, {
      kind: 'usage',
      hint: 'write it as host[:port]/repository[:tag][@sha256:<64 hex>], e.g. registry.example.com/ml/model@sha256:...',
    });
  let rest = input.trim();
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad(`"${d}" is not a sha256 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  // distribution's rule: the first component is a host if it has a dot, a port, or is localhost.
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))
  ) {
    if (!HOST.test(first)) throw bad(`"${first}" is not a valid registry host`);
    registry = first;
    parts.shift();
  }
  const upper = parts.find((p) => /[A-Z]/.test(p));
  if (upper !== undefined) {
    throw bad(
      `"${upper}" has upper-case letters; repository names are lowercase (try ${[registry === 'docker.io' ? '' : `${registry}/`, parts.join('/').toLowerCase()].join('')})`,
    );
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad('repository path components must be lowercase letters, digits and separators (. _ __ -)');
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { registry, repository: parts.join('/'), tag, digest };
}

/** `host/repo`, the name signatures and deployments refer to. */
export function repositoryName(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}

export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The digest-pinned form kiln prints and deploys: `host/repo@sha256:...` (no tag). */
export function pinned(ref: Pick<ImageReference, 'registry' | 'repository'>, digest: Digest): string {
  return `${repositoryName(ref)}@${digest}`;
}

/** Registries kiln may talk to over plain HTTP without being told: loopback only. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.startsWith('127.');
}
