// The one way kiln speaks to a registry: picks https (or http for loopback/insecure hosts), adds
// User-Agent and credentials, answers 401 challenges once, retries what is safe to retry, follows
// redirects without leaking Authorization to other hosts, and turns failures into KilnErrors.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { type Logger, silentLogger } from '../../log.ts';
import { USER_AGENT } from '../../version.ts';
import { isLoopbackRegistry } from '../reference.ts';
import { Authenticator } from './auth.ts';
import { type CredentialResolver, dockerKeychain } from './dockerconfig.ts';
import { authFailed, type ErrorContext, isTlsError, responseError, unreachable } from './errors.ts';
import { BodyStreamError, drain, header, send, type TlsOptions } from './http.ts';
import { followRedirects } from './redirect.ts';
import {
  backoffDelay,
  DEFAULT_RETRY,
  isNetworkError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  sleep,
} from './retry.ts';
import type { RawFetch } from './token.ts';

export interface TransportOptions {
  /** Registry host as written in image references: `registry.example.com`, `127.0.0.1:5000`, `docker.io`. */
  registry: string;
  /** Where credentials come from; default: Docker's config and credential helpers. */
  credentials?: CredentialResolver;
  /** Hosts spoken to over plain HTTP besides loopback ones (config `registry.insecure`). */
  insecure?: string[];
  /** Force the scheme: true = http, false = https (default: http only for loopback/insecure). */
  plainHttp?: boolean;
  tls?: TlsOptions;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  logger?: Logger;
  /** Fail a request when no byte moves for this long (default 5 min: registries can be slow to commit big blobs). */
  idleTimeoutMs?: number;
}

export interface RequestSpec {
  method: string;
  /** `/v2/...` on this registry, or an absolute URL (an upload session's Location). */
  url: string | URL;
  headers?: Record<string, string>;
  /** Bytes are replayable (retried); a stream is sent once, with backpressure. */
  body?: Uint8Array | Readable;
  /** Token scopes, e.g. `repository:ml/x:pull,push`. */
  scopes: string[];
  /** Statuses the caller handles; any other becomes a KilnError described by `ctx`. */
  ok: number[];
  ctx: Omit<ErrorContext, 'registry'>;
  /** Safe to repeat after a 5xx? Default: GET, HEAD, PUT, DELETE. */
  idempotent?: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export class Transport {
  readonly registry: string;
  readonly base: URL;
  readonly #auth: Authenticator;
  readonly #retry: RetryPolicy;
  readonly #log: Logger;
  readonly #ua: string;
  readonly #tls: TlsOptions | undefined;
  readonly #idleMs: number;

  constructor(opts: TransportOptions) {
    this.registry = opts.registry;
    const plain =
      opts.plainHttp ?? (isLoopbackRegistry(opts.registry) || (opts.insecure ?? []).includes(opts.registry));
    // Docker Hub's API lives on registry-1.docker.io; references say docker.io.
    const apiHost =
      opts.registry === 'docker.io' || opts.registry === 'index.docker.io'
        ? 'registry-1.docker.io'
        : opts.registry;
    this.base = new URL(`${plain ? 'http' : 'https'}://${apiHost}`);
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#log = opts.logger ?? silentLogger;
    this.#ua = opts.userAgent ?? USER_AGENT;
    this.#tls = opts.tls;
    this.#idleMs = opts.idleTimeoutMs ?? 300_000;
    this.#auth = new Authenticator(opts.registry, opts.credentials ?? dockerKeychain(), this.raw);
  }

  /** A request to the registry; resolves with a response whose status is in `spec.ok`. */
  async request(spec: RequestSpec): Promise<IncomingMessage> {
    const url = typeof spec.url === 'string' ? new URL(spec.url, this.base) : spec.url;
    const replayable = !(spec.body instanceof Readable);
    const idempotent = spec.idempotent ?? IDEMPOTENT.has(spec.method);
    // A stream cannot be sent twice, so learn the auth scheme before it goes (GET /v2/).
    if (!replayable && !this.#auth.known) await this.ping();
    let scopes = spec.scopes;
    for (let answered = false; ; answered = true) {
      const authorization = url.origin === this.base.origin ? await this.#auth.header(scopes) : undefined;
      const headers: Record<string, string> = { 'user-agent': this.#ua, ...spec.headers };
      if (authorization) headers['authorization'] = authorization;
      const res = await this.#exchange(url, spec.method, headers, spec.body, idempotent && replayable);
      const status = res.statusCode ?? 0;
      if (status === 401 && !spec.ok.includes(401)) {
        drain(res);
        if (answered || !replayable) {
          throw authFailed(this.registry, await this.#auth.username(), {
            status,
            method: spec.method,
            path: url.pathname,
          });
        }
        scopes = await this.#auth.answer(header(res, 'www-authenticate'), scopes, authorization);
        continue;
      }
      // Served without credentials: the registry (or this operation) is open, no ping needed later.
      if (!authorization && status !== 401) this.#auth.markAnonymous();
      if (spec.ok.includes(status)) return res;
      throw await responseError(res, spec.method, url, { registry: this.registry, ...spec.ctx });
    }
  }

  /** GET /v2/: learns the auth challenge (401) or that the registry is open (200). */
  async ping(): Promise<void> {
    const url = new URL('/v2/', this.base);
    const res = await this.#exchange(url, 'GET', { 'user-agent': this.#ua }, undefined, true);
    drain(res);
    if (res.statusCode === 401) await this.#auth.answer(header(res, 'www-authenticate'), [], undefined);
    else if (res.statusCode === 200) this.#auth.markAnonymous();
  }

  /** For token realms: retries and redirects, no registry credentials. */
  readonly raw: RawFetch = (url, init) =>
    this.#exchange(
      url,
      init.method,
      { 'user-agent': this.#ua, ...init.headers },
      init.body,
      init.method === 'GET',
    );

  /** One logical exchange: redirects followed, network errors / 429 / (idempotent) 5xx retried. */
  async #exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | Readable | undefined,
    retry5xx: boolean,
  ): Promise<IncomingMessage> {
    const replayable = !(body instanceof Readable);
    const p = this.#retry;
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      const sendOne = (u: URL, h: Record<string, string>) =>
        send(u, { method, headers: h, body, tls: this.#tls, idleTimeoutMs: this.#idleMs });
      try {
        res = await followRedirects(url, method, headers, sendOne);
      } catch (e) {
        if (e instanceof BodyStreamError) throw e.cause; // the caller's stream failed, not the registry
        // ENOTFOUND: an unknown host is a typo or no network; retrying will not help, naming it will.
        const dns = (e as NodeJS.ErrnoException).code === 'ENOTFOUND';
        if (!isNetworkError(e) && !isTlsError(e) && !dns) throw e;
        if (isNetworkError(e) && replayable && attempt < p.attempts) {
          const wait = backoffDelay(p, attempt);
          this.#log.debug(
            `${method} ${url.host}${url.pathname} failed (${(e as Error).message}); retry in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        throw unreachable(this.registry, url, e, attempt);
      }
      const status = res.statusCode ?? 0;
      if (replayable && attempt < p.attempts && isRetryableStatus(status, retry5xx)) {
        const asked = parseRetryAfter(header(res, 'retry-after'));
        if (asked === undefined || asked <= p.maxRetryAfterMs) {
          const wait = asked ?? backoffDelay(p, attempt);
          drain(res);
          this.#log.debug(`${method} ${url.host}${url.pathname} answered ${status}; retry in ${wait} ms`);
          await sleep(wait);
          continue;
        }
      }
      return res;
    }
  }
}
