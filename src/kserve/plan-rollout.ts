// Pure planning for an InferenceService that already exists: promote, abort, rollback. Like
// plan.ts, every refusal happens here, before any request that changes anything.
import { KilnError } from '../errors.ts';
import { type HistoryEntry, pushHistory } from './annotations.ts';
import { type LiveView, learnRevisions, readLive } from './live.ts';
import { nextGeneration, refuseRawCanary } from './plan.ts';
import { digestOf, isDigest } from './reference.ts';
import type { KilnState } from './render.ts';
import { type InferenceService, type IsvcRef, refString } from './types.ts';

/** The state of an existing, kiln-deployable InferenceService, unchanged. */
export function currentState(
  ref: IsvcRef,
  live: InferenceService | undefined,
): { view: LiveView; state: KilnState } {
  const view = readLive(live);
  if (!view.exists) {
    throw new KilnError('ISVC_NOT_FOUND', `InferenceService ${refString(ref)} does not exist`, {
      kind: 'usage',
      hint: 'check NAMESPACE/NAME (and --context); create it with kiln deploy',
    });
  }
  if (!view.image || !view.mode) {
    throw new KilnError(
      'ISVC_NO_IMAGE',
      `InferenceService ${refString(ref)} has neither a kserve-container image nor an oci:// storageUri`,
      {
        kind: 'usage',
        hint: 'point it at an image first: kiln deploy NAMESPACE/NAME --image REPO@sha256:...',
      },
    );
  }
  const state: KilnState = {
    image: view.image,
    mode: view.mode,
    canaryPercent: view.canaryPercent,
    model: view.model,
    modelFormat: view.modelFormat,
    runtime: view.runtime,
    history: view.history,
    revisions: learnRevisions(view, live),
  };
  return { view, state };
}

/**
 * Promote and abort send the current image back with the apply; kiln only ever writes digests, so
 * an InferenceService someone pointed at a tag is refused until a digest is deployed.
 */
function requirePinned(ref: IsvcRef, image: string): void {
  if (safeDigest(image) !== undefined) return;
  throw new KilnError(
    'ISVC_IMAGE_NOT_PINNED',
    `InferenceService ${refString(ref)} serves ${image}, a tag: kiln writes digests only and will not re-apply it`,
    { kind: 'policy', hint: 'deploy a digest first: kiln deploy NAMESPACE/NAME --image REPO@sha256:...' },
  );
}

/** Promote: drop canaryTrafficPercent so the latest revision takes 100%. */
export function planPromote(ref: IsvcRef, live: InferenceService | undefined): KilnState {
  const { state } = currentState(ref, live);
  requirePinned(ref, state.image);
  return { ...state, canaryPercent: undefined };
}

/** Abort: canaryTrafficPercent 0, all traffic back on the last rolled-out revision. */
export function planAbort(ref: IsvcRef, live: InferenceService | undefined): KilnState {
  const { view, state } = currentState(ref, live);
  requirePinned(ref, state.image);
  if (view.raw) refuseRawCanary(ref, 'rollout abort');
  if (view.canaryPercent === undefined) {
    throw new KilnError(
      'NO_CANARY',
      `InferenceService ${refString(ref)} has no canary in progress to abort`,
      {
        kind: 'policy',
        hint: 'to go back to the previous digest use: kiln rollback NAMESPACE/NAME',
      },
    );
  }
  return { ...state, canaryPercent: 0 };
}

/**
 * Step: set canaryTrafficPercent to `percent` (the analysis moving a canary forward). Refused when
 * the image is no longer the one under analysis: a newer version replaced the canary meanwhile.
 */
export function planStep(
  ref: IsvcRef,
  live: InferenceService | undefined,
  percent: number,
  expectImage: string | undefined,
): KilnState {
  const { view, state } = currentState(ref, live);
  requirePinned(ref, state.image);
  if (view.raw) refuseRawCanary(ref, 'a canary step');
  if (expectImage !== undefined && state.image !== expectImage) {
    throw new KilnError(
      'ROLLOUT_SUPERSEDED',
      `InferenceService ${refString(ref)} now serves ${state.image}, not ${expectImage} under analysis`,
      { kind: 'policy', hint: 'a newer version replaced the canary; its own analysis decides it' },
    );
  }
  return { ...state, canaryPercent: percent };
}

/** Rollback: point the predictor at the previous (or the named) recorded digest, canary removed. */
export function planRollback(
  ref: IsvcRef,
  live: InferenceService | undefined,
  to: string | undefined,
  now: Date,
): KilnState {
  const { view, state } = currentState(ref, live);
  const current = safeDigest(state.image);
  const target = to === undefined ? previousEntry(view.history, current) : namedEntry(ref, view.history, to);
  if (!target) {
    throw new KilnError(
      'NO_ROLLBACK_HISTORY',
      `InferenceService ${refString(ref)} has no earlier digest recorded by kiln to roll back to (it serves ${state.image})`,
      {
        kind: 'policy',
        hint: 'kiln records each digest it deploys (last 10); deploy an explicit digest with kiln deploy --image REPO@sha256:...',
      },
    );
  }
  const model = target.model && target.version ? { name: target.model, version: target.version } : undefined;
  const history =
    target.image === state.image
      ? state.history
      : pushHistory(state.history, {
          ...target,
          at: now.toISOString(),
          generation: nextGeneration(live),
        });
  return { ...state, image: target.image, mode: target.mode, canaryPercent: undefined, model, history };
}

/** The newest recorded entry with a digest other than the one serving (kubectl rollout undo semantics). */
function previousEntry(history: HistoryEntry[], currentDigest: string | undefined): HistoryEntry | undefined {
  return history.find((e) => safeDigest(e.image) !== currentDigest);
}

function namedEntry(ref: IsvcRef, history: HistoryEntry[], to: string): HistoryEntry {
  const wanted = isDigest(to) ? to : digestOf(to);
  const hit = history.find((e) => safeDigest(e.image) === wanted);
  if (!hit) {
    const known = history.map((e) => `${safeDigest(e.image)}${e.version ? ` (version ${e.version})` : ''}`);
    throw new KilnError(
      'ROLLBACK_TARGET_UNKNOWN',
      `digest ${wanted} is not in the history kiln recorded on ${refString(ref)}`,
      {
        kind: 'usage',
        hint: known.length > 0 ? `recorded digests: ${known.join(', ')}` : 'nothing is recorded yet',
        details: { known },
      },
    );
  }
  return hit;
}

function safeDigest(image: string): string | undefined {
  const at = image.indexOf('@');
  return at < 0 ? undefined : image.slice(at + 1);
}
