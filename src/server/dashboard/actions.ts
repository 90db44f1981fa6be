// The dashboard's actions, each through the same src/kserve functions the CLI uses (kiln rollout
// promote|abort, kiln rollback) or the queue (retry), each recorded with who and when whether it
// worked or not.
import type { WatchedModel } from '../../config/schema.ts';
import { describeCause, isKilnError, KilnError } from '../../errors.ts';
import { abortRollout, promoteRollout, rollback } from '../../kserve/deploy.ts';
import { parseIsvcRef } from '../../kserve/kubeconfig.ts';
import type { Logger } from '../../log.ts';
import type { PromotionQueue } from '../queue.ts';
import { wallMicros } from '../reconciler.ts';
import type { LiveCache } from './live.ts';
import type { ActionKind, DashboardRecords } from './records.ts';
import { slots } from './views.ts';

export interface ActionDeps {
  models: readonly WatchedModel[];
  records: DashboardRecords;
  live: LiveCache;
  queue: Pick<PromotionQueue, 'offer'>;
  log: Logger;
}

export interface ActionRequest {
  action: ActionKind;
  who: string;
  model: string;
  /** rollback: the digest to go back to (default: the previous recorded one). */
  digest?: string | undefined;
  /** Free text kept in the history (why it was aborted or rolled back). */
  reason?: string | undefined;
  /** retry: the failed promotion. */
  promotionId?: number | undefined;
}

export async function runAction(d: ActionDeps, a: ActionRequest): Promise<Record<string, unknown>> {
  const m = d.models.find((x) => x.name === a.model);
  if (!m)
    throw new KilnError('MODEL_NOT_WATCHED', `model ${a.model} is not watched by this kiln serve`, {
      kind: 'usage',
    });
  const at = Date.now();
  const before = await d.live.refresh(m.name);
  const { serving, canary } = slots(before?.status, before?.versions ?? new Map());
  const current = canary ?? serving;
  const record = {
    at,
    who: a.who,
    action: a.action,
    model: m.name,
    version: current?.version,
    digest: current?.digest,
    target: undefined as string | undefined,
    reason: a.reason,
    promotionId: undefined as number | undefined,
  };
  try {
    const out = a.action === 'retry' ? retry(d, m, a, record) : await rollout(d, m, a, record);
    d.records.recordAction({ ...record, result: 'done', error: undefined });
    d.log.info(`dashboard: ${a.who} ran ${a.action} on ${m.name}`, {
      model: m.name,
      action: a.action,
      who: a.who,
    });
    await d.live.refresh(m.name);
    return { action: a.action, who: a.who, at, ...out };
  } catch (e) {
    const error = isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
    d.records.recordAction({ ...record, result: 'failed', error });
    d.log.warn(`dashboard: ${a.who}'s ${a.action} on ${m.name} failed`, {
      model: m.name,
      action: a.action,
      who: a.who,
      error,
    });
    throw e;
  }
}

async function rollout(
  d: ActionDeps,
  m: WatchedModel,
  a: ActionRequest,
  record: { target: string | undefined },
): Promise<Record<string, unknown>> {
  if (!m.deploy || m.deploy.gitops) {
    throw new KilnError('NO_CLUSTER_TARGET', `model ${m.name} is not deployed to a cluster by kiln serve`, {
      kind: 'usage',
      hint: 'set models[].deploy.inferenceService (without gitops) in kiln.yaml',
    });
  }
  const ref = parseIsvcRef(m.deploy.inferenceService, []);
  const kube = await d.live.cluster();
  const res =
    a.action === 'promote'
      ? await promoteRollout(kube, ref, d.log)
      : a.action === 'abort'
        ? await abortRollout(kube, ref, d.log)
        : await rollback(kube, ref, a.digest, d.log);
  if (a.action === 'rollback') record.target = res.digest;
  return { inferenceService: `${ref.namespace}/${ref.name}`, rollout: res };
}

function retry(
  d: ActionDeps,
  m: WatchedModel,
  a: ActionRequest,
  record: { version: string | undefined; digest: string | undefined; promotionId: number | undefined },
): Record<string, unknown> {
  const p = a.promotionId === undefined ? undefined : d.records.promotion(a.promotionId);
  if (!p || p.name !== m.name) {
    throw new KilnError('PROMOTION_NOT_FOUND', `promotion ${a.promotionId} of ${m.name} does not exist`, {
      kind: 'usage',
    });
  }
  const newest = d.records.history(m.name, 1)[0];
  if (p.status !== 'failed' || newest?.id !== p.id) {
    throw new KilnError(
      'NOT_RETRYABLE',
      `promotion ${p.id} (${m.name} version ${p.version}) is ${p.status}${newest?.id !== p.id ? ` and promotion ${newest?.id} came after it` : ''}: only the newest failed promotion can be retried`,
      { kind: 'policy', hint: 'move the MLflow alias to re-promote an older version' },
    );
  }
  record.version = p.version;
  record.digest = p.digest;
  // The same path as a reconcile that finds the alias at this version: queued unless already so.
  const out = d.queue.offer({
    name: m.name,
    version: p.version,
    eventAtUs: wallMicros(),
    source: 'reconcile',
  });
  record.promotionId = out.promotionId;
  return { decision: out.word, promotionId: out.promotionId, version: p.version };
}
