// Registry failures as KilnErrors with stable codes. Registries explain themselves in
// `{"errors":[{"code","message","detail"}]}` (distribution-spec "Error Codes"); kiln keeps that
// list and the HTTP status in `details`, and says in `hint` what the user can do.
import type { IncomingMessage } from 'node:http';
import { describeCause, KilnError } from '../../errors.ts';
import { readBody } from './http.ts';

export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** The registry's error list, or [] when the body is empty, not JSON, or shaped otherwise. */
export function parseRegistryErrors(body: Uint8Array): RegistryErrorEntry[] {
  try {
    const json = JSON.parse(Buffer.from(body).toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(json.errors)) return [];
    return json.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: String(e['code'] ?? ''),
        message: String(e['message'] ?? ''),
        detail: e['detail'],
      }));
  } catch {
    return [];
  }
}

export interface ErrorContext {
  registry: string;
  /** What kiln was doing, for the message: `manifest 127.0.0.1:5000/ml/x:v1`, `blob upload to ml/x`. */
  what: string;
  /** A 404 means this (MANIFEST_NOT_FOUND, BLOB_NOT_FOUND) instead of REGISTRY_ERROR. */
  notFound?: { code: string; hint: string };
}

/** Turn an unexpected response into a KilnError, reading (at most 64 KiB of) its error body. */
export async function responseError(res: IncomingMessage, method: string, url: URL, ctx: ErrorContext) {
  const status = res.statusCode ?? 0;
  const body =
    method === 'HEAD' ? Buffer.alloc(0) : await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0));
  const errors = parseRegistryErrors(body);
  const said = errors.length
    ? errors.map((e) => `${e.code}: ${e.message}`).join('; ')
    : body.toString('utf8').trim().slice(0, 200) || `HTTP ${status}`;
  const details = { registry: ctx.registry, status, method, path: url.pathname, errors };
  if (status === 404 && ctx.notFound) {
    return new KilnError(ctx.notFound.code, `${ctx.what} was not found (${said})`, {
      hint: ctx.notFound.hint,
      details,
    });
  }
  if (status === 401) return authFailed(ctx.registry, undefined, details);
  if (status === 403) {
    return new KilnError('REGISTRY_DENIED', `registry ${ctx.registry} denied ${ctx.what}: ${said}`, {
      hint: `the credentials kiln used for ${ctx.registry} lack permission for this repository (pushing needs write access); check \`docker login ${ctx.registry}\` and the repository's permissions`,
      details,
    });
  }
  return new KilnError(
    'REGISTRY_ERROR',
    `registry ${ctx.registry} answered ${status} to ${ctx.what}: ${said}`,
    {
      hint:
        status >= 500
          ? 'the registry failed on its side; check its health and logs, then retry'
          : 'the registry refused the request; its error above says why',
      details,
    },
  );
}

export function authFailed(registry: string, username: string | undefined, details: Record<string, unknown>) {
  const who = username ? `the credentials for user "${username}"` : 'anonymous access (no credentials found)';
  return new KilnError('REGISTRY_AUTH_FAILED', `registry ${registry} rejected ${who}`, {
    hint: `run \`docker login ${registry}\` or fix the entry for ${registry} in ~/.docker/config.json (or $DOCKER_CONFIG/config.json, or its credential helper)`,
    details: { registry, username, ...details },
  });
}

const TLS_CODES =
  /^(EPROTO|ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_)/;

export function isTlsError(e: unknown): boolean {
  if (e instanceof Error && /wrong version number|packet length too long/i.test(e.message)) return true;
  return TLS_CODES.test((e as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export function unreachable(registry: string, url: URL, cause: unknown, attempts: number): KilnError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const plain = cause instanceof Error && /wrong version number|packet length too long/i.test(cause.message);
  const hint = plain
    ? `${registry} speaks plain HTTP, not HTTPS: list it under registry.insecure in kiln.yaml (registry: {insecure: [${registry}]})`
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
      ? `the host name ${url.hostname} does not resolve: check it for typos, and that this machine has network access and DNS`
      : isTlsError(cause)
        ? `TLS with ${url.host} failed: if the registry serves plain HTTP, list it under registry.insecure in kiln.yaml; if it uses a private CA, trust that CA (NODE_EXTRA_CA_CERTS)`
        : `is the registry running, and is the address "${registry}" right? kiln speaks HTTPS to it unless it is loopback or listed under registry.insecure`;
  return new KilnError(
    'REGISTRY_UNREACHABLE',
    `registry ${registry} is unreachable at ${url.origin} after ${attempts} attempt(s): ${describeCause(cause)}`,
    { hint, cause, details: { registry, url: url.origin, attempts, code } },
  );
}
