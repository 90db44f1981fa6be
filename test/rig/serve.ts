// Helpers for kiln serve tests and bench/webhook: a Promoter that records its calls (the server's
// injection point, in place of the real pipeline whose own tests are end to end), deliveries
// signed exactly as MLflow signs them, and MLflow's webhook API.
import { randomBytes, randomUUID } from 'node:crypto';
import type { PromoteRequest, PromoteResult } from '../../src/pipeline/promote-types.ts';
import { signatureHeader } from '../../src/server/webhook-verify.ts';
import type { MlflowRig } from './mlflow.ts';
import { sleep } from './proc.ts';

export interface Recorder {
  calls: PromoteRequest[];
  promoter: (req: PromoteRequest) => Promise<PromoteResult>;
}

/** Records each call, takes `delayMs`, and returns a plausible result naming the version. */
export function recordingPromoter(delayMs = 0): Recorder {
  const calls: PromoteRequest[] = [];
  return {
    calls,
    promoter: async (req) => {
      calls.push(req);
      if (delayMs > 0) await sleep(delayMs);
      return fakeResult(req);
    },
  };
}

export function fakeResult(req: PromoteRequest): PromoteResult {
  const hex = Buffer.from(`${req.name}/${req.version}`).toString('hex').padEnd(64, '0').slice(0, 64);
  return {
    name: req.name,
    version: req.version ?? '0',
    digest: `sha256:${hex}`,
    reference: `127.0.0.1:5000/ml/${req.name.toLowerCase()}@sha256:${hex}`,
    signed: true,
    deployedTo: `prod/${req.name.toLowerCase()}`,
    reused: false,
    bytesPushed: 1024,
    durationMs: 1,
  };
}

export interface Delivery {
  headers: Record<string, string>;
  body: string;
  deliveryId: string;
}

/** A delivery as MLflow's _send_webhook_request builds it (json.dumps spacing included). */
export function signedDelivery(
  secret: string,
  data: { name: string; alias?: string; version: string },
  opts: {
    deliveryId?: string;
    /** Signed header time, unix seconds (default now). */
    timestamp?: number;
    /** The body's event time (orders deliveries); default now. */
    eventAt?: Date;
    entity?: string;
    action?: string;
  } = {},
): Delivery {
  const deliveryId = opts.deliveryId ?? randomUUID();
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const eventAt = (opts.eventAt ?? new Date()).toISOString().replace('Z', '000+00:00');
  const body = pyJson({
    entity: opts.entity ?? 'model_version_alias',
    action: opts.action ?? 'created',
    timestamp: eventAt,
    data: { name: data.name, alias: data.alias ?? 'champion', version: data.version },
  });
  return {
    deliveryId,
    body,
    headers: {
      'content-type': 'application/json',
      'x-mlflow-delivery-id': deliveryId,
      'x-mlflow-timestamp': ts,
      'x-mlflow-signature': signatureHeader(secret, deliveryId, ts, Buffer.from(body)),
    },
  };
}

/** Python's json.dumps separators (", " and ": "), so bodies look byte-for-byte like MLflow's. */
function pyJson(v: unknown): string {
  return JSON.stringify(v).replace(/","/g, '", "').replace(/":/g, '": ').replace(/},"/g, '}, "');
}

export async function postDelivery(url: string, d: Delivery): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.status, body: await res.text() };
}

/** MLflow needs a Fernet key (32 url-safe base64 bytes, padded) to store webhook secrets. */
export function fernetKey(): string {
  return `${randomBytes(32).toString('base64url')}=`;
}

/** The environment MLflow needs to call a receiver on 127.0.0.1 (FIELD-NOTES "Webhooks"). */
export function mlflowWebhookEnv(): NodeJS.ProcessEnv {
  return {
    MLFLOW_WEBHOOK_ALLOWED_SCHEMES: 'http,https',
    MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: 'true',
    MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: fernetKey(),
  };
}

/** Events are proto enum NAMES in upper case; lower case answers an HTML 500 (MLflow 3.x). */
export async function createWebhook(rig: MlflowRig, url: string, secret: string): Promise<string> {
  const res = await fetch(`${rig.url}/api/2.0/mlflow/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `kiln-${randomUUID().slice(0, 8)}`,
      url,
      events: [{ entity: 'MODEL_VERSION_ALIAS', action: 'CREATED' }],
      secret,
    }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`creating the MLflow webhook failed: ${res.status} ${text}`);
  return (JSON.parse(text) as { webhook: { webhook_id: string } }).webhook.webhook_id;
}

/** Poll `check` until it returns a value other than undefined/false, or fail after `timeoutMs`. */
type Maybe<T> = T | undefined | false;
export async function waitFor<T>(
  what: string,
  check: () => Maybe<T> | Promise<Maybe<T>>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The value of one sample in Prometheus text, e.g. `kiln_webhook_deliveries_total{verdict="accepted"}`. */
export function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
