// The body of an MLflow webhook delivery (mlflow/webhooks/delivery.py `_send_webhook_request`):
//   {"entity": "model_version_alias", "action": "created", "timestamp": "<ISO 8601, microseconds>",
//    "data": {"name": ..., "alias": ..., "version": "7"}}   (+ "workspace" when workspaces are on)
// Moving an alias fires `model_version_alias.created` with the NEW version (FIELD-NOTES
// "Webhooks"); that is the only event kiln acts on. Everything else is acknowledged and ignored.

export type WebhookEvent =
  | {
      kind: 'alias-set';
      name: string;
      alias: string;
      version: string;
      /** When MLflow sent it (µs since the epoch): orders deliveries that arrive out of order. */
      eventAtUs: number;
    }
  | { kind: 'ignored'; event: string }
  | { kind: 'malformed'; reason: string };

const VERSION = /^[1-9]\d{0,9}$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** `signedAtSeconds` (X-MLflow-Timestamp) stands in when the body carries no usable timestamp. */
export function parseEvent(body: Uint8Array, signedAtSeconds: number): WebhookEvent {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch {
    return { kind: 'malformed', reason: 'body is not UTF-8 JSON' };
  }
  if (!isObject(value)) return { kind: 'malformed', reason: 'body is not a JSON object' };
  const { entity, action, data } = value;
  if (typeof entity !== 'string' || typeof action !== 'string') {
    return { kind: 'malformed', reason: 'body has no string "entity" and "action"' };
  }
  if (entity !== 'model_version_alias' || action !== 'created') {
    return { kind: 'ignored', event: `${entity}.${action}` };
  }
  if (!isObject(data)) return { kind: 'malformed', reason: '"data" is not an object' };
  const { name, alias, version } = data;
  if (typeof name !== 'string' || name === '' || typeof alias !== 'string' || alias === '') {
    return { kind: 'malformed', reason: '"data" needs non-empty string "name" and "alias"' };
  }
  // MLflow model versions are positive integers sent as strings (model_registry.proto).
  if (typeof version !== 'string' || !VERSION.test(version)) {
    return { kind: 'malformed', reason: '"data.version" is not a version number string' };
  }
  const eventAtUs = isoMicros(value['timestamp']) ?? signedAtSeconds * 1_000_000;
  return { kind: 'alias-set', name, alias, version, eventAtUs };
}

const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Python's isoformat() keeps microseconds; Date.parse would drop everything below a millisecond. */
export function isoMicros(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = ISO.exec(v);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
  return seconds * 1000 + fraction;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
