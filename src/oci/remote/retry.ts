// When and how long to wait before trying a registry request again. Exponential backoff with
// full jitter (AWS architecture blog "Exponential Backoff And Jitter"), so many kiln processes
// hitting one registry do not retry in lockstep; 429's Retry-After (RFC 9110 §10.2.3) wins when
// given, within a bound: a registry asking for minutes is reported, not waited out silently.

export interface RetryPolicy {
  /** Total tries of one request, the first included. */
  attempts: number;
  /** First backoff ceiling; doubled per retry. */
  baseDelayMs: number;
  /** No single backoff waits longer than this. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the request fails with the registry's answer. */
  maxRetryAfterMs: number;
}

/**
 * 5 tries, about 4-8 s of waiting in all (half-jittered 0.5, 1, 2, 4 s ceilings): rides out a
 * registry restart or a load balancer hiccup, no more.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** Delay before retry number `retry` (1 = the first retry): uniform in [ceiling/2, ceiling]. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  // Half-jitter: never retry immediately, still spread out.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // an HTTP date names its day and month
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Status codes worth another try: 429 always (the request was not processed), 5xx gateway/overload ones. */
export function isRetryableStatus(status: number, idempotent: boolean): boolean {
  if (status === 429) return true;
  return idempotent && (status === 500 || status === 502 || status === 503 || status === 504);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Socket-level failures (refused, reset, timed out, DNS): the registry may be back in a moment. */
export function isNetworkError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && NETWORK_CODES.has(code)) return true;
  return e instanceof Error && /socket hang up/i.test(e.message);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
