// Status: which digest serves what share of traffic, and which MLflow version each is. Reads
// status.components.predictor as KServe's controller writes it (Knative traffic targets) and
// names each revision's image from what kiln recorded (see live.ts: learnRevisions).
import { KilnError } from '../errors.ts';
import type { Kube } from './client.ts';
import { imageAtGeneration, type LiveView, learnRevisions, readLive } from './live.ts';
import type { InferenceService, IsvcRef, TrafficTarget } from './types.ts';
import { refString } from './types.ts';

export interface RevisionReport {
  revision: string;
  /** Share of traffic (Knative percent); undefined when the revision is not in the traffic list. */
  percent: number | undefined;
  tag: string | undefined;
  latest: boolean;
  /** Roles from status: latestCreated, latestReady, latestRolledout, previousRolledout. */
  roles: string[];
  image: string | undefined;
  digest: string | undefined;
  model: string | undefined;
  version: string | undefined;
}

export interface StatusReport {
  namespace: string;
  name: string;
  deploymentMode: 'Serverless' | 'RawDeployment';
  /** The image the spec asks for now, and its MLflow model version. */
  image: string | undefined;
  model: string | undefined;
  version: string | undefined;
  canaryPercent: number | undefined;
  generation: number | undefined;
  observedGeneration: number | undefined;
  /** True when the controller has seen the current spec (observedGeneration == generation). */
  reconciled: boolean;
  ready: string | undefined;
  url: string | undefined;
  revisions: RevisionReport[];
  /** Recorded digests, newest first (rollback targets). */
  history: { image: string; version: string | undefined; at: string }[];
  /** The canary analysis' summary (annotation analysis.kiln.dev/status), if one ran. */
  analysis?: AnalysisSummary | undefined;
}

/** Written by src/analysis/publish.ts; read here as plain JSON (kserve/ does not import analysis/). */
export interface AnalysisSummary {
  phase: string;
  version?: string;
  step: string;
  percent?: number;
  reason?: string;
  nextCheckAt?: string;
  last?: {
    at: string;
    verdict: string;
    action: string;
    reason: string;
    checks: { check: string; verdict: string; reason: string }[];
  };
  [field: string]: unknown;
}

function readAnalysis(live: InferenceService): AnalysisSummary | undefined {
  const raw = live.metadata.annotations?.['analysis.kiln.dev/status'];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as AnalysisSummary;
  } catch {
    return undefined;
  }
}

export async function getStatus(kube: Kube, ref: IsvcRef): Promise<StatusReport> {
  const live = await kube.get(ref);
  if (!live) {
    throw new KilnError('ISVC_NOT_FOUND', `InferenceService ${refString(ref)} does not exist`, {
      kind: 'usage',
      hint: 'check NAMESPACE/NAME (and --context); create it with kiln deploy',
    });
  }
  return summarize(ref, live);
}

const ROLE_FIELDS = [
  'latestCreatedRevision',
  'latestReadyRevision',
  'latestRolledoutRevision',
  'previousRolledoutRevision',
] as const;

export function summarize(ref: IsvcRef, live: InferenceService): StatusReport {
  const view = readLive(live);
  const predictor = live.status?.components?.predictor ?? {};
  const observed = live.status?.observedGeneration;
  const revisions = learnRevisions(view, live);
  const traffic: TrafficTarget[] = predictor.traffic ?? [];
  const names: string[] = [];
  for (const t of traffic) if (t.revisionName && !names.includes(t.revisionName)) names.push(t.revisionName);
  for (const f of ROLE_FIELDS) {
    const r = predictor[f];
    if (r && !names.includes(r)) names.push(r);
  }
  const rows = names.map((revision): RevisionReport => {
    const targets = traffic.filter((t) => t.revisionName === revision);
    const percent = targets.length > 0 ? targets.reduce((s, t) => s + (t.percent ?? 0), 0) : undefined;
    const image =
      revisions[revision] ??
      (revision === predictor.latestCreatedRevision ? imageAtGeneration(view, observed) : undefined);
    return {
      revision,
      percent,
      tag: targets.find((t) => t.tag)?.tag,
      latest: targets.some((t) => t.latestRevision === true),
      roles: ROLE_FIELDS.filter((f) => predictor[f] === revision).map((f) => f.replace(/Revision$/, '')),
      image,
      digest: image?.slice(image.indexOf('@') + 1),
      ...modelFor(view, image),
    };
  });
  return {
    namespace: ref.namespace,
    name: ref.name,
    deploymentMode: view.raw ? 'RawDeployment' : 'Serverless',
    image: view.image,
    model: view.model?.name,
    version: view.model?.version,
    canaryPercent: view.canaryPercent,
    generation: view.generation,
    observedGeneration: observed,
    reconciled: observed !== undefined && observed === view.generation,
    ready: live.status?.conditions?.find((c) => c.type === 'Ready')?.status,
    url: live.status?.url,
    revisions: rows,
    history: view.history.map((e) => ({ image: e.image, version: e.version, at: e.at })),
    analysis: readAnalysis(live),
  };
}

function modelFor(
  view: LiveView,
  image: string | undefined,
): { model: string | undefined; version: string | undefined } {
  if (image !== undefined && image === view.image && view.model)
    return { model: view.model.name, version: view.model.version };
  const e = view.history.find((h) => h.image === image);
  return { model: e?.model, version: e?.version };
}
