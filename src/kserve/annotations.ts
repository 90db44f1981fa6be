// What kiln records on the InferenceService itself (metadata.annotations, prefix `kiln.dev/`),
// so that rollback and status need nothing but the object: no database, no MLflow round trip.
// The history is bounded (annotations share a 256 KiB budget per object with everyone else).

export const ANNOTATION_PREFIX = 'kiln.dev/';
export const ANN_MODEL_NAME = `${ANNOTATION_PREFIX}model-name`;
export const ANN_MODEL_VERSION = `${ANNOTATION_PREFIX}model-version`;
export const ANN_IMAGE = `${ANNOTATION_PREFIX}image`;
export const ANN_HISTORY = `${ANNOTATION_PREFIX}history`;
export const ANN_REVISIONS = `${ANNOTATION_PREFIX}revisions`;
/** KServe's own switch between Knative (Serverless) and plain Deployments. */
export const ANN_DEPLOYMENT_MODE = 'serving.kserve.io/deploymentMode';

export const HISTORY_LIMIT = 10;

/** One image kiln pointed the predictor at, newest first in the history. */
export interface HistoryEntry {
  /** `REPO@sha256:...` exactly as written into the spec. */
  image: string;
  mode: 'baked' | 'modelcar';
  model?: string;
  version?: string;
  /** When kiln applied it (ISO 8601). */
  at: string;
  /**
   * metadata.generation of the spec that first carried this image: lets `status` tell which image
   * a revision runs, from the controller's status.observedGeneration.
   */
  generation?: number;
}

export type Annotations = Record<string, string>;

export function readHistory(annotations: Annotations | undefined): HistoryEntry[] {
  const raw = annotations?.[ANN_HISTORY];
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    // Tolerate hand edits: keep only entries that still name an image.
    return parsed.filter(
      (e): e is HistoryEntry => typeof e === 'object' && e !== null && typeof e.image === 'string',
    );
  } catch {
    return [];
  }
}

/** Prepend an entry unless it names the image already at the head; keep the newest HISTORY_LIMIT. */
export function pushHistory(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  if (history[0]?.image === entry.image) return [...history];
  return [entry, ...history].slice(0, HISTORY_LIMIT);
}

/** Revision name -> image, learnt from the controller's status each time kiln applies. */
export function readRevisions(annotations: Annotations | undefined): Record<string, string> {
  const raw = annotations?.[ANN_REVISIONS];
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(
      Object.entries(parsed).filter((kv): kv is [string, string] => typeof kv[1] === 'string'),
    );
  } catch {
    return {};
  }
}

/** Add one mapping, keeping the newest HISTORY_LIMIT (insertion order is age order). */
export function addRevision(
  revisions: Record<string, string>,
  name: string,
  image: string,
): Record<string, string> {
  const rest = Object.entries(revisions).filter(([k]) => k !== name);
  return Object.fromEntries([...rest, [name, image]].slice(-HISTORY_LIMIT));
}

/**
 * KServe's RawDeployment mode (plain Deployments, no Knative revisions or traffic split). Newer
 * KServe releases also call it "Standard"; a cluster-wide default mode is not visible here.
 */
export function isRawDeployment(annotations: Annotations | undefined): boolean {
  const mode = annotations?.[ANN_DEPLOYMENT_MODE];
  return mode === 'RawDeployment' || mode === 'Standard';
}
