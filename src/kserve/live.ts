// Reading kiln's view of a live InferenceService: which image serves, in which mode, with which
// MLflow model version, plus the history and revision map kiln recorded in annotations.
import {
  ANN_IMAGE,
  ANN_MODEL_NAME,
  ANN_MODEL_VERSION,
  addRevision,
  type HistoryEntry,
  isRawDeployment,
  readHistory,
  readRevisions,
} from './annotations.ts';
import { type ImageMode, type InferenceService, KSERVE_CONTAINER } from './types.ts';

export interface LiveView {
  exists: boolean;
  image: string | undefined;
  mode: ImageMode | undefined;
  canaryPercent: number | undefined;
  model: { name: string; version: string } | undefined;
  modelFormat: string | undefined;
  runtime: string | undefined;
  history: HistoryEntry[];
  revisions: Record<string, string>;
  raw: boolean;
  generation: number | undefined;
}

export function readLive(live: InferenceService | undefined): LiveView {
  const annotations = live?.metadata?.annotations;
  const predictor = live?.spec?.predictor;
  const container = predictor?.containers?.find((c) => c.name === KSERVE_CONTAINER);
  const storageUri = predictor?.model?.storageUri;
  let image: string | undefined;
  let mode: ImageMode | undefined;
  if (container?.image) {
    image = container.image;
    mode = 'baked';
  } else if (storageUri?.startsWith('oci://')) {
    image = storageUri.slice('oci://'.length);
    mode = 'modelcar';
  }
  const history = readHistory(annotations);
  return {
    exists: live !== undefined,
    image,
    mode,
    canaryPercent: predictor?.canaryTrafficPercent,
    model: modelOf(image, annotations, history),
    modelFormat: predictor?.model?.modelFormat?.name,
    runtime: predictor?.model?.runtime,
    history,
    revisions: readRevisions(annotations),
    raw: isRawDeployment(annotations),
    generation: live?.metadata?.generation,
  };
}

/**
 * The MLflow model behind `image`: the annotations when they describe that image, else the history
 * entry for it (someone may have changed the image by hand since kiln last wrote).
 */
function modelOf(
  image: string | undefined,
  annotations: Record<string, string> | undefined,
  history: HistoryEntry[],
): { name: string; version: string } | undefined {
  const name = annotations?.[ANN_MODEL_NAME];
  const version = annotations?.[ANN_MODEL_VERSION];
  if (image !== undefined && annotations?.[ANN_IMAGE] === image && name && version) return { name, version };
  const entry = history.find((e) => e.image === image);
  return entry?.model && entry.version ? { name: entry.model, version: entry.version } : undefined;
}

/** The entry describing `image`, if kiln recorded it. */
export const historyEntryFor = (view: LiveView, image: string | undefined): HistoryEntry | undefined =>
  view.history.find((e) => e.image === image);

/**
 * The image the spec carried at `generation`: the current one when the controller has caught up,
 * else the newest history entry introduced at or before it. Undefined when kiln cannot know.
 */
export function imageAtGeneration(view: LiveView, generation: number | undefined): string | undefined {
  if (generation === undefined) return undefined;
  if (generation === view.generation) return view.image;
  return view.history.find((e) => e.generation !== undefined && e.generation <= generation)?.image;
}

/**
 * Learn "revision R runs image I" from the controller's status (latestCreatedRevision at
 * observedGeneration) so `status` can name the image of an older revision later on.
 */
export function learnRevisions(view: LiveView, live: InferenceService | undefined): Record<string, string> {
  const revision = live?.status?.components?.predictor?.latestCreatedRevision;
  if (!revision || view.revisions[revision]) return view.revisions;
  const image = imageAtGeneration(view, live?.status?.observedGeneration);
  return image ? addRevision(view.revisions, revision, image) : view.revisions;
}
