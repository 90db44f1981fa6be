// The REST client: one place that builds URLs, adds auth, retries and turns answers into values or
// KilnErrors. Higher modules (registry.ts, artifacts.ts, download.ts) only name paths and shapes.
import type { Agent, IncomingMessage } from 'node:http';
import { describeCause, isKilnError, KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { sleep } from '../sleep.ts';
import {
  isTlsError,
  type MlflowErrorContext,
  mlflowBadResponse,
  mlflowHttpError,
  mlflowTlsError,
  mlflowUnreachable,
} from './errors.ts';
import { drain, readText, send, tlsAgent } from './http.ts';
import { authorizationHeader, checkTrackingUri, type MlflowOptions } from './options.ts';
import {
  backoffDelay,
  isConnectionError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryPolicy,
} from './retry.ts';

export interface OpenOptions {
  what: string;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
}

export class MlflowClient {
  /** Base URL with a trailing slash; REST paths are resolved against it (keeps a path prefix). */
  readonly baseUrl: URL;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly #auth: string | undefined;
  readonly #agent: Agent | undefined;

  constructor(options: MlflowOptions) {
    const url = checkTrackingUri(options.trackingUri);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.baseUrl = url;
    this.retry = retryPolicy(options.retry);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.log = options.log ?? silentLogger;
    this.#auth = authorizationHeader(options);
    try {
      this.#agent = url.protocol === 'https:' ? tlsAgent(options) : undefined;
    } catch (e) {
      throw new KilnError('CONFIG_INVALID', `cannot read the MLflow CA bundle ${options.caCertPath}`, {
        kind: 'usage',
        hint: 'check MLFLOW_TRACKING_SERVER_CERT_PATH',
        cause: e,
        details: { reason: describeCause(e) },
      });
    }
  }

  /** `path` is relative to the base, e.g. `api/2.0/mlflow/model-versions/get`. */
  url(path: string, query: Record<string, string> = {}): URL {
    const u = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  }

  /** `signal` stops retries and the request (kiln serve's reconciler on shutdown). */
  async getJson(
    path: string,
    query: Record<string, string>,
    what: string,
    signal?: AbortSignal | undefined,
  ): Promise<unknown> {
    return this.#json('GET', this.url(path, query), undefined, what, signal);
  }

  async postJson(path: string, body: unknown, what: string): Promise<unknown> {
    return this.#json('POST', this.url(path), Buffer.from(JSON.stringify(body)), what);
  }

  async deleteJson(path: string, body: unknown, what: string): Promise<unknown> {
    return this.#json('DELETE', this.url(path), Buffer.from(JSON.stringify(body)), what);
  }

  /** A GET whose 2xx response (headers read, body not) is returned for streaming. */
  async open(url: URL, opts: OpenOptions): Promise<IncomingMessage> {
    const ctx = { what: opts.what, method: 'GET', url: url.href };
    const { res } = await this.#exchange(ctx, url, 'GET', opts.headers ?? {}, undefined, opts.signal, false);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw mlflowHttpError(ctx, status, await readText(res).catch(() => ''));
  }

  async #json(
    method: 'GET' | 'POST' | 'DELETE',
    url: URL,
    body: Buffer | undefined,
    what: string,
    signal?: AbortSignal | undefined,
  ) {
    const ctx = { what, method, url: url.href };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const { res, text } = await this.#exchange(ctx, url, method, headers, body, signal, true);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw mlflowHttpError(ctx, status, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw mlflowBadResponse(ctx, `HTTP ${status} with a body that is not JSON: ${text.slice(0, 120)}`);
    }
  }

  /**
   * Send with retries: connection errors (also while reading a small body), 429 and 5xx back off
   * and try again, up to the policy; the last answer is returned whatever its status.
   */
  async #exchange(
    ctx: MlflowErrorContext,
    url: URL,
    method: 'GET' | 'POST' | 'DELETE',
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal | undefined,
    readBody: boolean,
  ): Promise<{ res: IncomingMessage; text: string }> {
    const all: Record<string, string> = { 'user-agent': 'kiln', ...headers };
    if (this.#auth !== undefined) all['authorization'] = this.#auth;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.retry.attempts;
      let res: IncomingMessage;
      let text = '';
      try {
        res = await send({
          url,
          method,
          headers: all,
          body,
          signal,
          timeoutMs: this.timeoutMs,
          agent: this.#agent,
        });
        if (readBody) text = await readText(res);
      } catch (e) {
        if (signal?.aborted || isKilnError(e)) throw e;
        if (isTlsError(e)) throw mlflowTlsError(ctx, e);
        if (!isConnectionError(e) || last) throw mlflowUnreachable(ctx, attempt, e);
        await this.#wait(ctx, attempt, describeCause(e), undefined, signal);
        continue;
      }
      const status = res.statusCode ?? 0;
      if (last || !isRetryableStatus(status)) return { res, text };
      if (!readBody) drain(res);
      await this.#wait(ctx, attempt, `HTTP ${status}`, parseRetryAfter(res.headers['retry-after']), signal);
    }
  }

  async #wait(
    ctx: MlflowErrorContext,
    attempt: number,
    reason: string,
    retryAfterMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const delay = backoffDelay(this.retry, attempt, retryAfterMs);
    this.log.warn(`MLflow ${ctx.what}: ${reason}; retrying`, {
      attempt,
      of: this.retry.attempts,
      delayMs: Math.round(delay),
    });
    await sleep(delay, signal);
  }
}
