// The JSON the dashboard API answers (docs/dashboard.md). The page renders these objects and
// nothing else, so a script reading /api/... sees exactly what a person sees.
import type { WatchedModel } from '../../config/schema.ts';
import type { StatusReport } from '../../kserve/status.ts';
import type { ModelVersionInfo } from '../../mlflow/types.ts';
import type { PromotionRow } from '../state-types.ts';
import type { AnalysisSource, CanaryAnalysis } from './analysis.ts';
import type { LiveModel } from './live.ts';
import type { ActionRecord } from './records.ts';

export interface Scan {
  /** passed | blocked | the first word of the tag, lower case. */
  verdict: string;
  /** The whole `kiln.scan` tag as the scanner wrote it. */
  detail: string;
}

export interface Slot {
  version: string | undefined;
  digest: string | undefined;
  image: string;
  /** Traffic share the spec asks for (KServe canaryTrafficPercent). */
  percent: number;
  signed: boolean | undefined;
  scan: Scan | undefined;
}

export interface CanarySlot extends Slot {
  /** Absent until canary analysis exists and knows this canary. */
  analysis?: CanaryAnalysis;
}

export interface PromotionBrief {
  id: number;
  version: string;
  status: PromotionRow['status'];
  digest: string | undefined;
  queuedAt: number;
  finishedAt: number | undefined;
  error: string | undefined;
}

export interface ModelSummary {
  name: string;
  alias: string;
  /** `aliasMissing`: MLflow answered that the model or alias does not exist (the error says which). */
  mlflow: { version: string | undefined; error: string | undefined; aliasMissing?: true };
  /** The image MLflow records for the alias's version (kiln.image / kiln.digest tags), signed and scanned. */
  aliasImage:
    | {
        digest: string | undefined;
        image: string | undefined;
        signed: boolean | undefined;
        scan: Scan | undefined;
      }
    | undefined;
  inferenceService: string | undefined;
  gitops: string | undefined;
  serving: Slot | undefined;
  canary: CanarySlot | undefined;
  cluster: { ready: string | undefined; reconciled: boolean | undefined; error: string | undefined };
  lastPromotion: PromotionBrief | undefined;
  queued: string | undefined;
  running: string | undefined;
}

export const brief = (p: PromotionRow): PromotionBrief => ({
  id: p.id,
  version: p.version,
  status: p.status,
  digest: p.digest,
  queuedAt: p.queuedAt,
  finishedAt: p.finishedAt,
  error: p.error,
});

export function scanOf(tags: Record<string, string> | undefined): Scan | undefined {
  const v = tags?.['kiln.scan'];
  if (v === undefined || v === '') return undefined;
  const word = /^[A-Za-z_-]+/.exec(v.trim())?.[0]?.toLowerCase() ?? 'unknown';
  return { verdict: word, detail: v };
}

export function signedOf(tags: Record<string, string> | undefined): boolean | undefined {
  const v = tags?.['kiln.signed'];
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

export const digestOfImage = (image: string | undefined): string | undefined => {
  const at = image?.indexOf('@') ?? -1;
  return image && at >= 0 ? image.slice(at + 1) : undefined;
};

/**
 * Serving and canary from the spec kiln wrote: canaryTrafficPercent P means the spec's image
 * takes P% and the previous recorded digest the rest (KServe's Serverless canary, FIELD-NOTES).
 */
export function slots(
  status: StatusReport | undefined,
  versions: Map<string, ModelVersionInfo>,
): { serving: Slot | undefined; canary: Slot | undefined } {
  if (!status?.image) return { serving: undefined, canary: undefined };
  const slot = (image: string, version: string | undefined, percent: number): Slot => {
    const tags = version ? versions.get(version)?.tags : undefined;
    return {
      version,
      digest: digestOfImage(image),
      image,
      percent,
      signed: signedOf(tags),
      scan: scanOf(tags),
    };
  };
  const spec = slot(status.image, status.version, status.canaryPercent ?? 100);
  if (status.canaryPercent === undefined) return { serving: spec, canary: undefined };
  const prev = status.history.find((h) => digestOfImage(h.image) !== spec.digest);
  // A first deploy has nothing to split against: KServe sends it everything whatever the percent.
  if (!prev) return { serving: { ...spec, percent: 100 }, canary: undefined };
  return {
    canary: spec,
    serving: prev ? slot(prev.image, prev.version, 100 - status.canaryPercent) : undefined,
  };
}

export function modelSummary(
  m: WatchedModel,
  live: LiveModel | undefined,
  promos: { last: PromotionRow; queued?: string; running?: string } | undefined,
  analysis: AnalysisSource,
): ModelSummary {
  const { serving, canary } = slots(live?.status, live?.versions ?? new Map());
  const judged = canary ? analysis(m.name, canary.digest) : undefined;
  return {
    name: m.name,
    alias: m.alias,
    mlflow: {
      version: live?.aliasVersion?.version,
      error: live?.mlflowError,
      ...(live?.aliasMissing ? { aliasMissing: true as const } : {}),
    },
    aliasImage: live?.aliasVersion
      ? {
          digest: live.aliasVersion.tags['kiln.digest'],
          image: live.aliasVersion.tags['kiln.image'],
          signed: signedOf(live.aliasVersion.tags),
          scan: scanOf(live.aliasVersion.tags),
        }
      : undefined,
    inferenceService: m.deploy?.gitops ? undefined : m.deploy?.inferenceService,
    gitops: m.deploy?.gitops,
    serving,
    canary: canary ? { ...canary, ...(judged ? { analysis: judged } : {}) } : undefined,
    cluster: { ready: live?.status?.ready, reconciled: live?.status?.reconciled, error: live?.clusterError },
    lastPromotion: promos ? brief(promos.last) : undefined,
    queued: promos?.queued,
    running: promos?.running,
  };
}

export type DecisionKind =
  | 'deployed'
  | 'failed'
  | 'superseded'
  | 'promoted'
  | 'aborted'
  | 'rolled-back'
  | 'rolled-back-to'
  | 'retried'
  | 'blocked';

export interface Decision {
  kind: DecisionKind;
  at: number | undefined;
  /** A token's name for actions; webhook / reconcile for alias moves; scan for the gate. */
  by: string;
  reason: string | undefined;
  promotionId: number | undefined;
  result?: 'done' | 'failed';
}

/** What was decided about one version: its promotions, the actions on its digest, the gate. */
export function decisionsFor(
  version: string,
  digest: string | undefined,
  promotions: PromotionRow[],
  actions: ActionRecord[],
  scan: Scan | undefined,
): Decision[] {
  const out: Decision[] = [];
  for (const p of promotions) {
    if (p.version !== version) continue;
    if (p.status === 'succeeded')
      out.push({ kind: 'deployed', at: p.finishedAt, by: p.source, reason: p.deployedTo, promotionId: p.id });
    if (p.status === 'failed')
      out.push({ kind: 'failed', at: p.finishedAt, by: p.source, reason: p.error, promotionId: p.id });
    if (p.status === 'superseded')
      out.push({
        kind: 'superseded',
        at: p.finishedAt,
        by: p.source,
        reason: 'a newer version arrived first',
        promotionId: p.id,
      });
  }
  for (const a of actions) {
    const mine = a.version === version || (digest !== undefined && a.digest === digest);
    const toMe = a.action === 'rollback' && digest !== undefined && a.target === digest;
    const base = { at: a.at, by: a.who, promotionId: a.promotionId, result: a.result };
    if (a.action === 'promote' && mine) out.push({ ...base, kind: 'promoted', reason: a.error ?? a.reason });
    if (a.action === 'abort' && mine) out.push({ ...base, kind: 'aborted', reason: a.error ?? a.reason });
    if (a.action === 'retry' && mine) out.push({ ...base, kind: 'retried', reason: a.error ?? a.reason });
    if (a.action === 'rollback' && mine && !toMe)
      out.push({
        ...base,
        kind: 'rolled-back',
        reason: a.error ?? `to ${a.target ?? '?'}${a.reason ? `: ${a.reason}` : ''}`,
      });
    if (toMe) out.push({ ...base, kind: 'rolled-back-to', reason: a.error ?? `from ${a.digest ?? '?'}` });
  }
  if (scan?.verdict === 'blocked')
    out.push({ kind: 'blocked', at: undefined, by: 'scan', reason: scan.detail, promotionId: undefined });
  return out.sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
}
