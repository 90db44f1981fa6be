// The slice of serving.kserve.io/v1beta1 InferenceService that kiln reads or writes. The CRD
// (KServe v0.20.0's, from its Go module: scripts/setup kube) is the authority; everything else is passed through.

export const GROUP = 'serving.kserve.io';
export const VERSION = 'v1beta1';
export const PLURAL = 'inferenceservices';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'InferenceService';
/** The container name KServe treats as the model server in a custom predictor. */
export const KSERVE_CONTAINER = 'kserve-container';
/** Where baked images carry the model (kiln bake --mode baked; KServe's runtimes read /mnt/models). */
export const BAKED_MODEL_DIR = '/mnt/models';

export type ImageMode = 'baked' | 'modelcar';

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  [field: string]: unknown;
}

export interface Predictor {
  canaryTrafficPercent?: number;
  containers?: Container[];
  model?: {
    modelFormat?: { name: string; version?: string };
    runtime?: string;
    storageUri?: string;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface TrafficTarget {
  revisionName?: string;
  percent?: number;
  tag?: string;
  latestRevision?: boolean;
  configurationName?: string;
  url?: string;
}

export interface ComponentStatus {
  latestCreatedRevision?: string;
  latestReadyRevision?: string;
  latestRolledoutRevision?: string;
  previousRolledoutRevision?: string;
  traffic?: TrafficTarget[];
  url?: string;
}

export interface InferenceService {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    managedFields?: { manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }[];
    [field: string]: unknown;
  };
  spec: { predictor: Predictor; [field: string]: unknown };
  status?: {
    observedGeneration?: number;
    url?: string;
    components?: { predictor?: ComponentStatus; [c: string]: ComponentStatus | undefined };
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    [field: string]: unknown;
  };
}

/** Namespace + name: how every kserve/ function names its object. */
export interface IsvcRef {
  namespace: string;
  name: string;
}

export const refString = (r: IsvcRef): string => `${r.namespace}/${r.name}`;
