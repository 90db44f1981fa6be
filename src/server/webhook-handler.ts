// POST /webhooks/mlflow: authenticate, parse, check the model is watched, then hand the alias move
// to the queue (one SQLite transaction) and answer. No promotion work happens before the answer.
// Answers (docs/serve.md): 202 accepted, 200 duplicate or ignored event, 400 malformed or stale,
// 401 unsigned or forged, 413 too large, 422 model or alias not watched. MLflow retries only 429,
// 5xx and connection errors, so every refusal here is final for that delivery.
import type { WatchedModel } from '../config/schema.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { KilnMetrics, Verdict } from './kiln-metrics.ts';
import type { PromotionQueue } from './queue.ts';
import { parseEvent } from './webhook-event.ts';
import { verifyDelivery } from './webhook-verify.ts';

export const WEBHOOK_PATH = '/webhooks/mlflow';
/** MLflow's payloads are a few hundred bytes; anything near this is not MLflow. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookDeps {
  secret: string;
  maxSkewSeconds: number;
  models: readonly WatchedModel[];
  queue: Pick<PromotionQueue, 'acceptDelivery'>;
  metrics: KilnMetrics;
  log?: Logger;
  nowMs?: () => number;
}

/** A webhook answer before it is framed: http.ts writes it as JSON (direct route) or as a Response. */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface WebhookHandler {
  /** The hot path (http.ts `direct` route): node's headers and the body bytes in, JSON out. */
  direct(req: { headers: Pick<Headers, 'get'>; body: Uint8Array }): Promise<WebhookAnswer>;
  /** The same, fetch-shaped, for the general router (e.g. a path spelled with dot segments). */
  fetch(req: Request): Promise<Response>;
}

export function webhookHandler(deps: WebhookDeps): WebhookHandler {
  const log = deps.log ?? silentLogger;
  const now = deps.nowMs ?? Date.now;
  const watched = new Map(deps.models.map((m) => [m.name, m.alias]));
  const answer = (verdict: Verdict, status: number, body: Record<string, unknown>): WebhookAnswer => {
    deps.metrics.deliveries.inc({ verdict });
    return { status, body };
  };

  const direct = async ({ headers, body }: { headers: Pick<Headers, 'get'>; body: Uint8Array }) => {
    if (body.byteLength > MAX_BODY_BYTES) return tooLargeAnswer(deps.metrics);
    const v = verifyDelivery({
      headers,
      body,
      secret: deps.secret,
      maxSkewSeconds: deps.maxSkewSeconds,
      nowMs: now(),
    });
    if (!v.ok) {
      log.warn(`webhook refused: ${v.reason}`, { verdict: v.verdict, status: v.status });
      return answer(v.verdict, v.status, { error: v.verdict, message: v.reason });
    }
    const delivery = v.deliveryId;
    const event = parseEvent(body, v.timestamp);
    if (event.kind === 'malformed') {
      log.warn(`webhook refused: ${event.reason}`, { verdict: 'malformed', delivery });
      return answer('malformed', 400, { error: 'malformed', message: event.reason });
    }
    if (event.kind === 'ignored') {
      log.debug(`webhook ignored: ${event.event}`, { delivery, event: event.event });
      return answer('ignored', 200, {
        status: 'ignored',
        message: `kiln acts on model_version_alias.created only, not ${event.event}`,
      });
    }
    const alias = watched.get(event.name);
    if (alias !== event.alias) {
      const message =
        alias === undefined
          ? `model "${event.name}" is not in kiln.yaml models`
          : `model "${event.name}" is watched at alias "${alias}", not "${event.alias}"`;
      log.warn(`webhook refused: ${message}`, { verdict: 'unwatched', delivery, model: event.name });
      return answer('unwatched', 422, { error: 'unwatched', message });
    }
    const out = await deps.queue.acceptDelivery(delivery, {
      name: event.name,
      version: event.version,
      eventAtUs: event.eventAtUs,
    });
    const fields = { delivery, model: event.name, alias: event.alias, version: event.version };
    if (out === undefined) {
      log.info('webhook delivery seen before: ignored', { ...fields, verdict: 'duplicate' });
      return answer('duplicate', 200, { status: 'duplicate', delivery });
    }
    log.info(`webhook ${event.name}@${event.alias} -> ${event.version}: ${out.word}`, {
      ...fields,
      verdict: 'accepted',
      decision: out.word,
    });
    return answer('accepted', 202, {
      status: 'accepted',
      delivery,
      decision: out.word,
      promotion: out.promotionId,
    });
  };

  return {
    direct,
    fetch: async (req) => {
      const out = await direct({ headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
      return Response.json(out.body, { status: out.status });
    },
  };
}

/** Also what http.ts answers when it stops reading a body at the cap. */
export function tooLarge(metrics: KilnMetrics): Response {
  const out = tooLargeAnswer(metrics);
  return Response.json(out.body, { status: out.status });
}

function tooLargeAnswer(metrics: KilnMetrics): WebhookAnswer {
  metrics.deliveries.inc({ verdict: 'too_large' });
  return { status: 413, body: { error: 'too_large', message: `body exceeds ${MAX_BODY_BYTES} bytes` } };
}
