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
