// Pure planning: given the live object (or none) and what the user asked for, decide kiln's
// complete desired state. Every refusal happens here, before any request that changes anything.
import { KilnError } from '../errors.ts';
import { type HistoryEntry, pushHistory } from './annotations.ts';
import { historyEntryFor, type LiveView, learnRevisions, readLive } from './live.ts';
import { formatPinnedImage, parsePinnedImage } from './reference.ts';
import type { KilnState } from './render.ts';
import { type ImageMode, type InferenceService, type IsvcRef, refString } from './types.ts';

export interface DeployRequest {
  /** `REPO@sha256:...`; a tag alone is refused. */
  image: string;
  mode?: ImageMode;
  /** 0-100: share for the new revision (Serverless mode); undefined = full rollout. */
  canaryPercent?: number | undefined;
  model?: { name: string; version: string } | undefined;
  modelFormat?: string | undefined;
  runtime?: string | undefined;
}

export const nextGeneration = (live: InferenceService | undefined): number =>
  (live?.metadata?.generation ?? 0) + 1;

export function validateCanary(percent: number | undefined): void {
  if (percent === undefined) return;
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new KilnError(
      'CANARY_INVALID',
      `canary traffic percent ${percent} is not a whole number from 0 to 100`,
      {
        kind: 'usage',
        hint: 'e.g. --canary 10 sends 10% of requests to the new digest',
      },
    );
  }
}

export function refuseRawCanary(ref: IsvcRef, what: string): never {
  throw new KilnError(
    'CANARY_UNSUPPORTED_RAW',
    `InferenceService ${refString(ref)} runs in RawDeployment mode, where KServe ignores canaryTrafficPercent: ${what} would not split traffic`,
    {
      kind: 'policy',
      hint: 'deploy without --canary (a full rollout; kiln rollback still returns to the previous digest), or use Serverless mode; see docs/kserve.md',
    },
  );
}

export interface PlanOptions {
  /**
   * Record metadata.generation in history entries (default true). Off for GitOps files: there the
   * generation is the cluster's business, and a guessed one would mislead `status`.
   */
  generations?: boolean;
}

export function planDeploy(
  ref: IsvcRef,
  live: InferenceService | undefined,
  req: DeployRequest,
  now: Date,
  opts: PlanOptions = {},
): KilnState {
  const image = formatPinnedImage(parsePinnedImage(req.image));
  validateCanary(req.canaryPercent);
  const view = readLive(live);
  if (view.raw && req.canaryPercent !== undefined) refuseRawCanary(ref, `--canary ${req.canaryPercent}`);
  const mode = req.mode ?? 'baked';
  const sameImage = view.image === image;
  const model = req.model ?? (sameImage ? view.model : undefined);
  let history = seedHistory(view, live, now);
  if (!sameImage) {
    history = pushHistory(history, {
      image,
      mode,
      ...(model ? { model: model.name, version: model.version } : {}),
      at: now.toISOString(),
      ...(opts.generations === false ? {} : { generation: nextGeneration(live) }),
    });
  }
  return {
    image,
    mode,
    canaryPercent: req.canaryPercent,
    model,
    modelFormat: req.modelFormat ?? view.modelFormat,
    runtime: req.runtime ?? view.runtime,
    history,
    revisions: learnRevisions(view, live),
  };
}

/**
 * An InferenceService kiln did not create may already serve a digest: record it first, so the
 * very first kiln deploy can be rolled back to what was there before.
 */
function seedHistory(view: LiveView, live: InferenceService | undefined, now: Date): HistoryEntry[] {
  if (!view.image || !view.mode || historyEntryFor(view, view.image)) return view.history;
  if (!isPinned(view.image)) return view.history;
  return pushHistory(view.history, {
    image: view.image,
    mode: view.mode,
    ...(view.model ? { model: view.model.name, version: view.model.version } : {}),
    at: now.toISOString(),
    ...(live?.metadata?.generation !== undefined ? { generation: live.metadata.generation } : {}),
  });
}

function isPinned(image: string): boolean {
  try {
    parsePinnedImage(image);
    return true;
  } catch {
    return false;
  }
}
