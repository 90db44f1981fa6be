// Bearer tokens (distribution `docs/spec/auth/token.md`, `oauth.md`): GET the challenge's realm
// with `service` and one `scope` parameter per scope, Basic credentials if any; or, holding an
// identity (refresh) token, POST the OAuth2 form. The answer's `token` (or `access_token`) is
// reused until `expires_in` (default 60 s) runs out, per registry + scope.
import type { IncomingMessage } from 'node:http';
import { KilnError } from '../../errors.ts';
import type { Challenge } from './challenge.ts';
import type { Credentials } from './dockerconfig.ts';
import { authFailed, responseError } from './errors.ts';
import { readBody } from './http.ts';

/** Sends one request with retries (no registry auth, no redirect auth forwarding). */
export type RawFetch = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: Uint8Array },
) => Promise<IncomingMessage>;

export interface TokenRequest {
  registry: string;
  challenge: Challenge;
  scopes: string[];
  credentials: Credentials | undefined;
}

export interface Token {
  token: string;
  expiresAt: number;
}

/** Refresh this long before the registry's expiry, so a token never dies in flight. */
const EARLY_MS = 10_000;

export async function fetchToken(raw: RawFetch, req: TokenRequest, now = Date.now()): Promise<Token> {
  const { realm, service } = req.challenge.params;
  if (!realm) {
    throw new KilnError(
      'REGISTRY_AUTH_FAILED',
      `registry ${req.registry} asked for a bearer token without a realm`,
      {
        hint: 'the registry is misconfigured (its WWW-Authenticate header lacks realm=)',
        details: { registry: req.registry, challenge: req.challenge },
      },
    );
  }
  const url = new URL(realm);
  const creds = req.credentials;
  let res: IncomingMessage;
  if (creds?.identityToken) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: creds.identityToken,
      client_id: 'kiln',
      ...(service ? { service } : {}),
      ...(req.scopes.length ? { scope: req.scopes.join(' ') } : {}),
    });
    res = await raw(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
    });
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of req.scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds?.username !== undefined || creds?.password !== undefined) {
      headers['authorization'] = basicAuth(creds.username ?? '', creds.password ?? '');
    }
    res = await raw(url, { method: 'GET', headers });
  }
  const status = res.statusCode ?? 0;
  if (status === 401) {
    res.resume();
    throw authFailed(req.registry, creds?.username, { status, realm: url.origin + url.pathname });
  }
  if (status !== 200) {
    throw await responseError(res, 'GET', url, {
      registry: req.registry,
      what: `a token request to ${url.host}`,
    });
  }
  const body = JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8')) as Record<string, unknown>;
  const token = body['token'] ?? body['access_token'];
  if (typeof token !== 'string' || !token) {
    throw new KilnError(
      'REGISTRY_AUTH_FAILED',
      `the token realm ${url.host} for ${req.registry} sent no token`,
      {
        hint: 'the registry\'s token service is misconfigured (no "token" or "access_token" in its answer)',
        details: { registry: req.registry, realm: url.origin + url.pathname },
      },
    );
  }
  const expiresIn =
    typeof body['expires_in'] === 'number' && body['expires_in'] > 0 ? body['expires_in'] : 60;
  return { token, expiresAt: now + Math.max(expiresIn * 1000 - EARLY_MS, expiresIn * 500) };
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** `repository:ml/x:pull,push` -> its resource and actions; the name may itself contain colons (ports). */
function splitScope(scope: string): { resource: string; actions: string[] } {
  const last = scope.lastIndexOf(':');
  return { resource: scope.slice(0, last), actions: scope.slice(last + 1).split(',') };
}

/** True when every action of every needed scope is granted by some scope in `have`. */
export function scopesCover(have: string[], need: string[]): boolean {
  const granted = new Map<string, Set<string>>();
  for (const s of have) {
    const { resource, actions } = splitScope(s);
    const set = granted.get(resource) ?? new Set<string>();
    for (const a of actions) set.add(a);
    granted.set(resource, set);
  }
  return need.every((s) => {
    const { resource, actions } = splitScope(s);
    const set = granted.get(resource);
    return set !== undefined && (set.has('*') || actions.every((a) => set.has(a)));
  });
}

/** One scope per resource with the union of its actions: `[x:pull, x:pull,push]` -> `[x:pull,push]`. */
export function mergeScopes(scopes: string[]): string[] {
  const merged = new Map<string, Set<string>>();
  for (const s of scopes) {
    const { resource, actions } = splitScope(s);
    const set = merged.get(resource) ?? new Set<string>();
    for (const a of actions) set.add(a);
    merged.set(resource, set);
  }
  return [...merged].map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`);
}

/** Tokens by realm + service, found by scope coverage: a pull,push token also serves pulls. */
export class TokenCache {
  #entries: Array<{ key: string; scopes: string[]; token: Token }> = [];

  get(key: string, scopes: string[], now = Date.now()): string | undefined {
    this.#entries = this.#entries.filter((e) => e.token.expiresAt > now);
    return this.#entries.find((e) => e.key === key && scopesCover(e.scopes, scopes))?.token.token;
  }

  set(key: string, scopes: string[], token: Token): void {
    this.#entries.push({ key, scopes, token });
  }

  /** Forget a token the registry refused (expired early, or revoked). */
  drop(token: string): void {
    this.#entries = this.#entries.filter((e) => e.token.token !== token);
  }
}
