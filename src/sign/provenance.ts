// SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) for an image kiln baked from an
// MLflow model version: what a reviewer needs to trust the image. Every URI passes through
// redactUri (credentials never reach a signed document) and nothing here reads the environment:
// the caller hands over plain values.
import { KILN_VERSION } from '../version.ts';
import { redactUri } from './redact.ts';
import { digestSet, makeStatement, type Statement } from './statement.ts';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** What `externalParameters` and `resolvedDependencies` below mean; bump on a breaking change. */
export const KILN_BUILD_TYPE = 'https://kiln.dev/build-types/mlflow-model-image/v1';
/** A local run of the kiln CLI; CI should pass its own builder id (e.g. the workflow URI). */
export const DEFAULT_BUILDER_ID = 'https://kiln.dev/builders/kiln-cli';

export interface ModelFileInput {
  /** Path inside the model artifact directory, e.g. `model.pkl`. */
  path: string;
  /** Hex sha256 of the file's bytes (`sha256:` prefix allowed). */
  sha256: string;
}

export interface ProvenanceInput {
  /** The built image: the statement's subject. */
  image: { name: string; digest: string };
  /** What the user asked for: `models:/NAME@ALIAS` or `models:/NAME/VERSION`. */
  modelUri: string;
  mlflow: {
    trackingUri: string;
    modelName: string;
    version: string;
    alias?: string | undefined;
    runId?: string | undefined;
    /** The version's `source` (e.g. `models:/m-<id>`, `runs:/<run>/model`). */
    sourceUri?: string | undefined;
  };
  files: readonly ModelFileInput[];
  build: {
    target: string;
    mode: string;
    compression: string;
    /**
     * Base image as requested, and the digest it resolved to (absent for a scratch image). `ref`
     * is absent when only the digest is known (attesting an image after the fact: kiln's labels
     * record the base digest, not the name it was asked for).
     */
    base?: { ref?: string | undefined; digest: string } | undefined;
  };
  builderId?: string | undefined;
  kilnVersion?: string | undefined;
  /**
   * The model security scan of the files (scanner and pack versions, verdict per file), recorded
   * as a byproduct so `cosign verify-attestation` shows what the gate checked.
   */
  scan?: object | undefined;
  invocationId: string;
  startedOn: Date | string;
  finishedOn: Date | string;
}

export interface ResourceDescriptor {
  /** in-toto ResourceDescriptor: at least one of uri and digest. */
  uri?: string;
  name?: string;
  digest?: Record<string, string>;
  annotations?: Record<string, string>;
}

const iso = (t: Date | string): string => (typeof t === 'string' ? new Date(t) : t).toISOString();
const hex = (h: string): string => digestSet(`sha256:${h.replace(/^sha256:/, '')}`)['sha256'] ?? '';

/** `<base>/<path>` for a file inside an artifact directory URI (query kept after the path). */
function fileUri(base: string, path: string): string {
  const q = base.search(/[?#]/);
  const [head, tail] = q < 0 ? [base, ''] : [base.slice(0, q), base.slice(q)];
  return `${head.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}${tail}`;
}

export function slsaPredicate(input: ProvenanceInput) {
  const m = input.mlflow;
  const version = input.kilnVersion ?? KILN_VERSION;
  const versionUri = `models:/${m.modelName}/${m.version}`;
  const source = m.sourceUri === undefined ? undefined : redactUri(m.sourceUri);
  const deps: ResourceDescriptor[] = [];
  const annotations: Record<string, string> = {
    trackingUri: redactUri(m.trackingUri),
    modelName: m.modelName,
    version: m.version,
  };
  if (m.alias !== undefined) annotations['alias'] = m.alias;
  if (m.runId !== undefined) annotations['runId'] = m.runId;
  deps.push({ uri: versionUri, name: 'mlflow-model-version', annotations });
  if (source !== undefined) deps.push({ uri: source, name: 'mlflow-source' });
  const base = input.build.base;
  if (base) {
    const d = hex(base.digest);
    if (base.ref === undefined) {
      deps.push({ name: 'base-image', digest: { sha256: d } });
    } else {
      const repo = redactUri(base.ref).replace(/@sha256:[a-f0-9]{64}$/, '');
      deps.push({ uri: `${repo}@sha256:${d}`, name: 'base-image', digest: { sha256: d } });
    }
  }
  const files = [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of files) {
    deps.push({
      uri: fileUri(source ?? versionUri, f.path),
      name: f.path,
      digest: { sha256: hex(f.sha256) },
    });
  }
  return {
    buildDefinition: {
      buildType: KILN_BUILD_TYPE,
      externalParameters: {
        model: redactUri(input.modelUri),
        ...(m.alias !== undefined ? { alias: m.alias } : {}),
        mlflowTrackingUri: redactUri(m.trackingUri),
        target: redactUri(input.build.target),
        mode: input.build.mode,
        compression: input.build.compression,
        ...(base?.ref !== undefined ? { base: redactUri(base.ref) } : {}),
      },
      internalParameters: { kilnVersion: version },
      resolvedDependencies: deps,
    },
    runDetails: {
      builder: { id: input.builderId ?? DEFAULT_BUILDER_ID, version: { kiln: version } },
      metadata: {
        invocationId: input.invocationId,
        startedOn: iso(input.startedOn),
        finishedOn: iso(input.finishedOn),
      },
      ...(input.scan
        ? {
            byproducts: [
              {
                name: 'kiln-model-scan',
                mediaType: 'application/vnd.kiln.model-scan.v1+json',
                annotations: input.scan,
              },
            ],
          }
        : {}),
    },
  };
}

export type SlsaPredicate = ReturnType<typeof slsaPredicate>;

/** The in-toto statement kiln attests: subject = the image, predicate = SLSA provenance v1. */
export function provenanceStatement(input: ProvenanceInput): Statement<SlsaPredicate> {
  return makeStatement(input.image, SLSA_PROVENANCE_V1, slsaPredicate(input));
}

/** The statement's exact bytes: the DSSE payload. */
export function provenancePayload(input: ProvenanceInput): Buffer {
  return Buffer.from(JSON.stringify(provenanceStatement(input)));
}
