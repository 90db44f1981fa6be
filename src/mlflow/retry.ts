// Bounded retries with exponential backoff and full jitter
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): connection errors,
// 429 and 5xx are worth another try; a 4xx is an answer and is never retried.

export interface RetryPolicy {
  /** Total tries, first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** 5 tries, waits drawn from [0, 250 ms], [0, 500 ms], [0, 1 s], [0, 2 s]: at most ~3.75 s of sleep. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 4000 };

export function retryPolicy(overrides: Partial<RetryPolicy> | undefined): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...overrides };
  return { ...p, attempts: Math.max(1, Math.floor(p.attempts)) };
}

/** The wait before try number `attempt + 1` (attempt counts from 1). Retry-After wins, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}

export function isRetryableStatus(status: number): boolean {
  // 501 Not Implemented and 505 will not change on a retry.
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'KILN_TIMEOUT',
]);

/** A failure to talk to the server at all (as opposed to an HTTP answer). */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  // node:http reports a server that closes the socket before answering as "socket hang up".
  if (e.message === 'socket hang up') return true;
  if (e instanceof AggregateError) return e.errors.some(isConnectionError);
  return e.cause !== undefined && isConnectionError(e.cause);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
