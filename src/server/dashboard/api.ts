// The dashboard's JSON API under /api (docs/dashboard.md) and its pages at / (assets.ts).
// GETs are open and answer with an ETag, so the page's 2 s poll costs a 304 when nothing moved;
// POSTs are actions, guarded (guard.ts) and recorded (actions.ts).
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { WatchedModel } from '../../config/schema.ts';
import { isKilnError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { MlflowClient } from '../../mlflow/client.ts';
import { searchModelVersions } from '../../mlflow/search.ts';
import type { ModelVersionInfo } from '../../mlflow/types.ts';
import { type ActionDeps, type ActionRequest, runAction } from './actions.ts';
import type { AnalysisSource } from './analysis.ts';
import { type Assets, servePage } from './assets.ts';
import { guardAction, whoIs } from './guard.ts';
import type { LiveCache } from './live.ts';
import type { ActionKind, DashboardRecords } from './records.ts';
import type { TokenSet } from './tokens.ts';
import { brief, decisionsFor, digestOfImage, modelSummary, scanOf, signedOf, slots } from './views.ts';

export interface DashboardDeps extends ActionDeps {
  models: readonly WatchedModel[];
  records: DashboardRecords;
  live: LiveCache;
  mlflow: MlflowClient;
  tokens: TokenSet;
  analysis: AnalysisSource;
  assets: Assets;
  log: Logger;
}

/** Answers the dashboard's paths, or undefined for any other path (routes.ts goes on). */
export function dashboardHandler(d: DashboardDeps): (req: Request) => Promise<Response | undefined> {
  const versionsCache = new Map<
    string,
    { at: number; value: Promise<{ versions: ModelVersionInfo[]; more: boolean }> }
  >();
  const versionsOf = (name: string) => {
    const hit = versionsCache.get(name);
    if (hit && Date.now() - hit.at < 3000) return hit.value;
    const value = searchModelVersions(d.mlflow, name, { max: 100 });
    versionsCache.set(name, { at: Date.now(), value });
    value.catch(() => versionsCache.delete(name));
    return value;
  };
  return async (req) => {
    const { pathname } = new URL(req.url);
    const page = servePage(d.assets, pathname, req);
    if (page) return page;
    if (!pathname.startsWith('/api/')) return undefined;
    const parts = pathname.slice(5).split('/').map(decodeURIComponent);
    if (req.method === 'POST') return action(d, req, parts);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return Response.json(
        { error: 'method_not_allowed' },
        { status: 405, headers: { allow: 'GET, HEAD, POST' } },
      );
    }
    const [what, key, ...rest] = parts;
    if (rest.length > 0) return notFound(pathname);
    if (what === 'session' && key === undefined) {
      const who = whoIs(req, d.tokens);
      return json(req, { actions: d.tokens.size > 0 ? 'token' : 'disabled', who: who ?? null });
    }
    if (what === 'models' && key === undefined) return json(req, await models(d));
    if (what === 'models' && key !== undefined) {
      const m = d.models.find((x) => x.name === key);
      return m ? json(req, await model(d, m, versionsOf)) : notFound(pathname, `model ${key} is not watched`);
    }
    if (what === 'promotions' && key !== undefined && /^\d+$/.test(key)) {
      const p = promotion(d, Number(key));
      return p ? json(req, p) : notFound(pathname, `promotion ${key} does not exist`);
    }
    return notFound(pathname);
  };
}

async function models(d: DashboardDeps) {
  const live = await d.live.all();
  const promos = d.records.latestByModel();
  return {
    models: d.models.map((m) => modelSummary(m, live.get(m.name), promos.get(m.name), d.analysis)),
  };
}

async function model(
  d: DashboardDeps,
  m: WatchedModel,
  versionsOf: (name: string) => Promise<{ versions: ModelVersionInfo[]; more: boolean }>,
) {
  const live = await d.live.one(m.name);
  const promotions = d.records.history(m.name, 200);
  const actions = d.records.actions(m.name, 200);
  const summary = modelSummary(m, live, d.records.latestByModel().get(m.name), d.analysis);
  let mlflowError: string | undefined;
  let list: ModelVersionInfo[] = [];
  let more = false;
  try {
    ({ versions: list, more } = await versionsOf(m.name));
  } catch (e) {
    mlflowError = isKilnError(e) ? `${e.code}: ${e.message}` : String(e);
  }
  // Versions kiln promoted that MLflow did not list (deleted, or MLflow down) still show.
  const known = new Set(list.map((v) => v.version));
  const extra = [...new Set(promotions.map((p) => p.version))].filter((v) => !known.has(v));
  const { serving, canary } = slots(live?.status, live?.versions ?? new Map());
  const history = live?.status?.history ?? [];
  const rows = [
    ...list.map((v) => ({ v, version: v.version })),
    ...extra.map((version) => ({ v: undefined, version })),
  ].sort((a, b) => Number(b.version) - Number(a.version));
  const versions = rows.map(({ v, version }) => {
    const mine = promotions.filter((p) => p.version === version);
    const digest = v?.tags['kiln.digest'] ?? mine.find((p) => p.digest)?.digest;
    const scan = scanOf(v?.tags);
    const promoted = mine.filter((p) => p.status === 'succeeded');
    // An apply recorded on the InferenceService within seconds of a promotion is that promotion.
    const byPromotion = (at: number) => promoted.some((p) => Math.abs((p.finishedAt ?? 0) - at) < 10_000);
    return {
      version,
      createdAt: v?.createdAt.getTime(),
      aliases: v?.aliases ?? [],
      digest,
      reference: v?.tags['kiln.image'] ?? mine.find((p) => p.reference)?.reference,
      signed: signedOf(v?.tags) ?? mine.find((p) => p.signed !== undefined)?.signed,
      scan,
      role: canary?.version === version ? 'canary' : serving?.version === version ? 'serving' : undefined,
      deployments: [
        ...promoted.map((p) => ({ at: p.finishedAt, to: p.deployedTo, promotionId: p.id, by: p.source })),
        ...history
          .filter((h) => h.version === version || (digest !== undefined && digestOfImage(h.image) === digest))
          .filter((h) => !byPromotion(Date.parse(h.at)))
          .map((h) => ({
            at: Date.parse(h.at),
            to: summary.inferenceService,
            promotionId: undefined,
            by: 'recorded on the InferenceService',
          })),
      ].sort((a, b) => (b.at ?? 0) - (a.at ?? 0)),
      decisions: decisionsFor(version, digest, promotions, actions, scan),
    };
  });
  return {
    model: summary,
    status: live?.status,
    versions,
    moreVersions: more,
    mlflowError,
    rollbackTargets: history
      .filter((h) => digestOfImage(h.image) !== digestOfImage(live?.status?.image))
      .map((h) => ({
        digest: digestOfImage(h.image),
        image: h.image,
        version: h.version,
        at: Date.parse(h.at),
      })),
    promotions: promotions.slice(0, 50).map(brief),
    actions: actions.slice(0, 50),
  };
}

function promotion(d: DashboardDeps, id: number) {
  const p = d.records.promotion(id);
  if (!p) return undefined;
  const errors = d.records.errors(id);
  const last = errors.at(-1);
  const newest = d.records.history(p.name, 1)[0];
  return {
    promotion: p,
    stages: d.records.stages(id),
    logs: d.records.logs(id),
    error:
      p.status === 'failed'
        ? {
            code: last?.code ?? /^([A-Z][A-Z0-9_]+):/.exec(p.error ?? '')?.[1],
            message: last?.message ?? p.error ?? 'failed',
            hint: last?.hint,
          }
        : undefined,
    errors,
    retryable: p.status === 'failed' && newest?.id === p.id,
  };
}

const ACTIONS: Record<string, ActionKind> = {
  promote: 'promote',
  abort: 'abort',
  rollback: 'rollback',
  retry: 'retry',
};

async function action(d: DashboardDeps, req: Request, parts: string[]): Promise<Response> {
  const guard = guardAction(req, d.tokens);
  if (!guard.ok) return guard.response;
  const [what, key, verb, ...rest] = parts;
  const kind = verb === undefined ? undefined : ACTIONS[verb];
  if (rest.length > 0 || !kind || key === undefined) return notFound(`/api/${parts.join('/')}`);
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse((await req.text()) || '{}');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    return Response.json({ error: 'malformed', message: 'the body must be a JSON object' }, { status: 400 });
  }
  const text = (k: string, max: number) =>
    typeof body[k] === 'string' ? (body[k] as string).slice(0, max) : undefined;
  let a: ActionRequest;
  if (what === 'models' && kind !== 'retry') {
    a = {
      action: kind,
      who: guard.who,
      model: key,
      digest: text('digest', 300),
      reason: text('reason', 500),
    };
  } else if (what === 'promotions' && kind === 'retry' && /^\d+$/.test(key)) {
    const p = d.records.promotion(Number(key));
    if (!p) return notFound(`/api/promotions/${key}`, `promotion ${key} does not exist`);
    a = { action: 'retry', who: guard.who, model: p.name, promotionId: p.id, reason: text('reason', 500) };
  } else {
    return notFound(`/api/${parts.join('/')}`);
  }
  try {
    return Response.json({ status: 'done', ...(await runAction(d, a)) });
  } catch (e) {
    if (!isKilnError(e)) throw e;
    const status =
      e.code === 'MODEL_NOT_WATCHED' || e.code === 'PROMOTION_NOT_FOUND'
        ? 404
        : e.kind === 'failed'
          ? 502
          : 409;
    return Response.json({ error: e.code, message: e.message, hint: e.hint }, { status });
  }
}

/**
 * JSON with a content hash as ETag: an unchanged answer to a poll is a bodyless 304. Larger
 * answers are gzipped when the client takes it (200 models are ~100 KB of JSON, ~10 KB gzipped).
 */
function json(req: Request, value: unknown): Response {
  const body = JSON.stringify(value);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  const headers: Record<string, string> = {
    etag,
    'cache-control': 'no-cache',
    'content-type': 'application/json',
    vary: 'accept-encoding',
  };
  if (req.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
  if (body.length > 1024 && /\bgzip\b/.test(req.headers.get('accept-encoding') ?? '')) {
    headers['content-encoding'] = 'gzip';
    return new Response(new Uint8Array(gzipSync(body, { level: 6 })), { headers });
  }
  return new Response(body, { headers });
}

function notFound(path: string, message = `no route ${path}`): Response {
  return Response.json({ error: 'not_found', message }, { status: 404 });
}
