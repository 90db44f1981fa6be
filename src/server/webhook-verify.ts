// MLflow webhook signature check (mlflow/webhooks/delivery.py, Standard Webhooks conventions):
//   X-MLflow-Signature: v1,<base64(HMAC-SHA256(secret, "<delivery_id>.<timestamp>.<raw body>"))>
// computed over the exact bytes received (re-serialising the JSON would change them), compared in
// constant time, with the signed unix timestamp bounded both ways so a captured delivery cannot be
// replayed later (dedupe by delivery id covers the window itself, see queue.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HEADER = {
  deliveryId: 'x-mlflow-delivery-id',
  timestamp: 'x-mlflow-timestamp',
  signature: 'x-mlflow-signature',
} as const;

export interface SignedDelivery {
  deliveryId: string;
  /** The signed unix timestamp, seconds. */
  timestamp: number;
}

/** Why a delivery was refused; each maps to one HTTP status and one metrics verdict. */
export type Refusal =
  | { verdict: 'unsigned'; status: 401; reason: string }
  | { verdict: 'forged'; status: 401; reason: string }
  | { verdict: 'malformed'; status: 400; reason: string }
  | { verdict: 'stale'; status: 400; reason: string };

export type VerifyResult = ({ ok: true } & SignedDelivery) | ({ ok: false } & Refusal);

export interface VerifyInput {
  /** A Headers, or http.ts's lighter reader of node's headers (same get() semantics). */
  headers: Pick<Headers, 'get'>;
  body: Uint8Array;
  secret: string;
  /** Accepted age of the signed timestamp, in seconds, in the past and in the future. */
  maxSkewSeconds: number;
  nowMs: number;
}

const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/** Check headers, then the signature, then the age: only authentic deliveries learn they are stale. */
export function verifyDelivery(input: VerifyInput): VerifyResult {
  const { headers } = input;
  const signature = headers.get(HEADER.signature);
  if (signature === null || signature === '') {
    return { ok: false, verdict: 'unsigned', status: 401, reason: 'no X-MLflow-Signature header' };
  }
  const deliveryId = headers.get(HEADER.deliveryId);
  const ts = headers.get(HEADER.timestamp);
  if (deliveryId === null || !DELIVERY_ID.test(deliveryId)) {
    return malformed('X-MLflow-Delivery-Id is missing or not an id');
  }
  if (ts === null || !UNIX_SECONDS.test(ts)) {
    return malformed('X-MLflow-Timestamp is missing or not unix seconds');
  }
  const expected = sign(input.secret, deliveryId, ts, input.body);
  if (!anyMatches(signature, expected)) {
    return { ok: false, verdict: 'forged', status: 401, reason: 'signature does not match' };
  }
  const timestamp = Number(ts);
  const ageSeconds = input.nowMs / 1000 - timestamp;
  if (Math.abs(ageSeconds) > input.maxSkewSeconds) {
    const dir =
      ageSeconds > 0 ? `${Math.round(ageSeconds)} s old` : `${Math.round(-ageSeconds)} s in the future`;
    return {
      ok: false,
      verdict: 'stale',
      status: 400,
      reason: `signed timestamp is ${dir} (limit ${input.maxSkewSeconds} s)`,
    };
  }
  return { ok: true, deliveryId, timestamp };
}

/** The raw HMAC bytes MLflow signs with; also used by tests and the bench to sign deliveries. */
export function sign(secret: string, deliveryId: string, timestamp: string, body: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${deliveryId}.${timestamp}.`).update(body).digest();
}

/** The header value MLflow would send for this delivery. */
export function signatureHeader(secret: string, deliveryId: string, timestamp: string, body: Uint8Array) {
  return `v1,${sign(secret, deliveryId, timestamp, body).toString('base64')}`;
}

/**
 * Standard Webhooks allows several space-separated `v1,<sig>` entries (secret rotation); MLflow
 * sends one. Lengths are public (32 bytes), so only equal-length buffers reach timingSafeEqual.
 */
function anyMatches(header: string, expected: Buffer): boolean {
  let match = false;
  for (const entry of header.split(' ')) {
    if (!entry.startsWith('v1,')) continue;
    const given = Buffer.from(entry.slice(3), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  return match;
}

function malformed(reason: string): VerifyResult {
  return { ok: false, verdict: 'malformed', status: 400, reason };
}
