// Pure rendering: kiln's desired state -> the server-side apply configuration of an
// InferenceService. The apply configuration is exactly the set of fields kiln owns; SSA removes a
// field kiln owned and no longer sends (that is how `rollout promote` drops canaryTrafficPercent).
import {
  ANN_HISTORY,
  ANN_IMAGE,
  ANN_MODEL_NAME,
  ANN_MODEL_VERSION,
  ANN_REVISIONS,
  type HistoryEntry,
} from './annotations.ts';
import {
  API_VERSION,
  BAKED_MODEL_DIR,
  type Container,
  type ImageMode,
  type InferenceService,
  type IsvcRef,
  KIND,
  KSERVE_CONTAINER,
  type Predictor,
} from './types.ts';

/** Everything kiln decides about one InferenceService; every operation renders all of it. */
export interface KilnState {
  /** `REPO@sha256:...`, never a tag. */
  image: string;
  mode: ImageMode;
  /** Undefined: no canary, the latest revision takes 100% (promoted). */
  canaryPercent?: number | undefined;
  model?: { name: string; version: string } | undefined;
  /** Modelcar: the KServe model format (selects the runtime), default sklearn. */
  modelFormat?: string | undefined;
  runtime?: string | undefined;
  history: HistoryEntry[];
  revisions: Record<string, string>;
}

export const DEFAULT_MODEL_FORMAT = 'sklearn';

/** Arguments kiln sets on a baked kserve-container (KServe's model servers read these, not env). */
const KILN_ARG = /^--model_(name|dir)(=|$)/;

export function bakedArgs(servedModelName: string): string[] {
  return [`--model_name=${servedModelName}`, `--model_dir=${BAKED_MODEL_DIR}`];
}

/**
 * `spec.predictor.containers` is an atomic list in KServe's CRD (no x-kubernetes-list-type), so an
 * apply that sends it replaces it whole. To keep fields other managers set on the container
 * (resources, env, probes...) kiln sends the live container back with only image and its own args
 * changed; `metadata.resourceVersion` in the same apply makes that read-modify-write safe.
 */
export function bakedContainers(
  ref: IsvcRef,
  image: string,
  live: InferenceService | undefined,
): Container[] {
  const current = live?.spec?.predictor?.containers ?? [];
  const previous = current.find((c) => c.name === KSERVE_CONTAINER);
  const otherArgs = (previous?.args ?? []).filter((a) => !KILN_ARG.test(a));
  const container: Container = {
    ...previous,
    name: KSERVE_CONTAINER,
    image,
    args: [...bakedArgs(ref.name), ...otherArgs],
  };
  return [container, ...current.filter((c) => c.name !== KSERVE_CONTAINER)];
}

export function modelcarStorageUri(image: string): string {
  return `oci://${image}`;
}

export function renderPredictor(
  ref: IsvcRef,
  state: KilnState,
  live: InferenceService | undefined,
): Predictor {
  const predictor: Predictor = {};
  if (state.canaryPercent !== undefined) predictor.canaryTrafficPercent = state.canaryPercent;
  if (state.mode === 'baked') {
    predictor.containers = bakedContainers(ref, state.image, live);
  } else {
    // `model` is a plain object (granular ownership): kiln sends only its three fields.
    predictor.model = {
      modelFormat: { name: state.modelFormat ?? DEFAULT_MODEL_FORMAT },
      ...(state.runtime ? { runtime: state.runtime } : {}),
      storageUri: modelcarStorageUri(state.image),
    };
  }
  return predictor;
}

export function renderAnnotations(state: KilnState): Record<string, string> {
  const a: Record<string, string> = {
    [ANN_IMAGE]: state.image,
    [ANN_HISTORY]: JSON.stringify(state.history),
  };
  if (state.model) {
    a[ANN_MODEL_NAME] = state.model.name;
    a[ANN_MODEL_VERSION] = state.model.version;
  }
  if (Object.keys(state.revisions).length > 0) a[ANN_REVISIONS] = JSON.stringify(state.revisions);
  return a;
}

export interface RenderOptions {
  /** Optimistic concurrency: the apply fails with 409 if the object changed since it was read. */
  resourceVersion?: string | undefined;
}

/** The whole apply configuration (also what the GitOps writer puts in the file). */
export function renderInferenceService(
  ref: IsvcRef,
  state: KilnState,
  live: InferenceService | undefined,
  opts: RenderOptions = {},
): InferenceService {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      annotations: renderAnnotations(state),
    },
    spec: { predictor: renderPredictor(ref, state, live) },
  };
}
