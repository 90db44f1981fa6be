// Per-registry authentication state. kiln starts anonymous; the first 401 tells it the scheme
// (its WWW-Authenticate challenge), and from then on every request carries Basic credentials or
// a Bearer token for its scopes. Credentials are looked up only when a registry asks for them.
import { KilnError } from '../../errors.ts';
import { type Challenge, parseChallenges, pickChallenge } from './challenge.ts';
import type { CredentialResolver, Credentials } from './dockerconfig.ts';
import { authFailed } from './errors.ts';
import { basicAuth, fetchToken, mergeScopes, type RawFetch, TokenCache } from './token.ts';

export class Authenticator {
  readonly registry: string;
  #resolver: CredentialResolver;
  #raw: RawFetch;
  #challenge: Challenge | undefined;
  #anonymous = false;
  #credentials: Promise<Credentials | undefined> | undefined;
  #tokens = new TokenCache();

  constructor(registry: string, resolver: CredentialResolver, raw: RawFetch) {
    this.registry = registry;
    this.#resolver = resolver;
    this.#raw = raw;
  }

  /** Whether kiln already knows how this registry authenticates (or that it needs nothing). */
  get known(): boolean {
    return this.#challenge !== undefined || this.#anonymous;
  }

  /** `/v2/` answered 200 without credentials: an open registry. */
  markAnonymous(): void {
    this.#anonymous = true;
  }

  credentials(): Promise<Credentials | undefined> {
    this.#credentials ??= this.#resolver(this.registry);
    return this.#credentials;
  }

  async username(): Promise<string | undefined> {
    return this.#challenge ? (await this.credentials())?.username : undefined;
  }

  /** The Authorization header for a request needing `scopes`, or undefined while anonymous. */
  async header(scopes: string[]): Promise<string | undefined> {
    const ch = this.#challenge;
    if (!ch) return undefined;
    const creds = await this.credentials();
    if (ch.scheme === 'basic') {
      return creds?.username !== undefined || creds?.password !== undefined
        ? basicAuth(creds.username ?? '', creds.password ?? '')
        : undefined;
    }
    const key = `${ch.params['realm']}|${ch.params['service'] ?? ''}`;
    const cached = this.#tokens.get(key, scopes);
    if (cached) return `Bearer ${cached}`;
    const token = await fetchToken(this.#raw, {
      registry: this.registry,
      challenge: ch,
      scopes,
      credentials: creds,
    });
    this.#tokens.set(key, scopes, token);
    return `Bearer ${token.token}`;
  }

  /**
   * A 401 arrived carrying `wwwAuthenticate`: learn the challenge and return the scopes to ask for
   * on the retry (ours plus any the registry named). Throws when a retry cannot help.
   */
  async answer(
    wwwAuthenticate: string | undefined,
    scopes: string[],
    sent: string | undefined,
  ): Promise<string[]> {
    const ch = pickChallenge(parseChallenges(wwwAuthenticate));
    if (!ch) {
      throw new KilnError(
        'REGISTRY_AUTH_FAILED',
        `registry ${this.registry} requires authentication kiln cannot answer (${wwwAuthenticate ?? 'no WWW-Authenticate header'})`,
        {
          hint: 'kiln supports Basic and Bearer token authentication (what docker login uses)',
          details: { registry: this.registry, challenge: wwwAuthenticate },
        },
      );
    }
    this.#challenge = ch;
    if (sent?.startsWith('Bearer ')) this.#tokens.drop(sent.slice(7));
    const creds = await this.credentials();
    if (ch.scheme === 'basic' && (!creds || (creds.username === undefined && creds.password === undefined))) {
      throw authFailed(this.registry, undefined, { scheme: 'basic' });
    }
    const extra = ch.params['scope']?.split(' ').filter(Boolean) ?? [];
    return mergeScopes([...scopes, ...extra]);
  }
}
