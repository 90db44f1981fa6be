import type { Digest } from '../oci/digest.ts';

// The promote stage's contract, shared by `kiln promote` (cli), `kiln serve` (server) and the
// Job executor: one (model, version) in, one recorded outcome out.

export interface PromoteRequest {
  /** Registered model name; must be listed in kiln.yaml `models` for `kiln serve`. */
  name: string;
  /** Promote what this alias points at now (resolved at run time)... */
  alias?: string | undefined;
  /** ...or exactly this version (what a webhook delivery names). */
  version?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Told each stage's start and end and every log line (kiln serve records them for its dashboard). */
  observer?: PromoteObserver | undefined;
}

/** The stages of one promotion, as the dashboard shows them (docs/dashboard.md). */
export type PromoteStage = 'resolve' | 'download' | 'bake' | 'push' | 'sign' | 'deploy';

export interface StageEnd {
  /** Bytes the stage moved or produced (model files, layer, blobs uploaded). */
  bytes?: number | undefined;
  /** One line for people: "3 files", "zstd", "prod/risk". */
  detail?: string | undefined;
  /** Set when the stage did no work: "image reused", "no signing key". */
  skipped?: string | undefined;
  error?: string | undefined;
}

/**
 * Watches one promotion. Download, bake and push are one streamed pass (the model is never held
 * whole), so their times overlap: each is the span from its first to its last byte.
 */
export interface PromoteObserver {
  stageStart(stage: PromoteStage, atMs: number): void;
  stageEnd(stage: PromoteStage, atMs: number, end: StageEnd): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface PromoteResult {
  name: string;
  version: string;
  digest: Digest;
  /** Digest-pinned reference of the image. */
  reference: string;
  signed: boolean;
  /** `namespace/name` (or the GitOps file) the version was deployed to, if any. */
  deployedTo: string | undefined;
  /** Nothing was uploaded: the digest was already recorded, present and signed. */
  reused: boolean;
  /** Bytes of model layer uploaded (0 when reused). */
  bytesPushed: number;
  durationMs: number;
}

/** What `kiln serve` calls for each promotion (in process, or via a Kubernetes Job). */
export type Promoter = (req: PromoteRequest) => Promise<PromoteResult>;
