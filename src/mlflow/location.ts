// Where a version's model directory lives, as a path under the tracking server's artifact proxy
// (`/api/2.0/mlflow-artifacts/artifacts/<path>`, on by default since MLflow 2.0). Checked on 3.17.2:
// - get-download-uri resolves `models:/m-<id>` and copied `models:/NAME/N` sources to
//   `mlflow-artifacts:/<exp>/models/m-<id>/artifacts`, and `mlflow-artifacts:/...` to itself;
// - but returns a `runs:/<run>/<path>` source unchanged, so kiln reads the run's artifact_uri;
// - the per-file `/model-versions/get-artifact` route answers 500 for runs:/ sources on a server
//   proxying artifacts, so kiln does not use it.
// Versions stored outside the proxy (s3://, gs://, file://... written by clients directly) cannot be
// read through the server; kiln says so instead of guessing.
import { KilnError } from '../errors.ts';
import type { MlflowClient } from './client.ts';
import { getLoggedModelArtifactUri, getModelVersionDownloadUri, getRunArtifactUri } from './registry.ts';
import type { ModelVersionInfo } from './types.ts';

export interface ArtifactLocation {
  /** The `mlflow-artifacts:` URI MLflow gave. */
  uri: string;
  /** The same place as a path relative to the proxy root, no leading or trailing `/`. */
  root: string;
}

const cache = new WeakMap<ModelVersionInfo, Promise<ArtifactLocation>>();

/** Memoised per info object: listing and every file download share one lookup. */
export function locateModelDir(client: MlflowClient, info: ModelVersionInfo): Promise<ArtifactLocation> {
  let p = cache.get(info);
  if (p === undefined) {
    p = locate(client, info);
    cache.set(info, p);
    p.catch(() => cache.delete(info)); // do not remember failures (the server may come back)
  }
  return p;
}

async function locate(client: MlflowClient, info: ModelVersionInfo): Promise<ArtifactLocation> {
  let uri = await getModelVersionDownloadUri(client, info.name, info.version);
  const run = /^runs:\/([^/]+)\/?(.*)$/.exec(uri);
  if (run?.[1] !== undefined) uri = joinUri(await getRunArtifactUri(client, run[1]), run[2] ?? '');
  const logged = /^models:\/(m-[^/@]+)$/.exec(uri);
  if (logged?.[1] !== undefined) uri = await getLoggedModelArtifactUri(client, logged[1]);
  const root = proxiedPath(uri);
  if (root === undefined) {
    throw new KilnError(
      'ARTIFACT_STORE_UNSUPPORTED',
      `the files of ${info.name}/${info.version} are at ${uri}, which kiln cannot read through the MLflow server`,
      {
        hint: 'kiln reads model files through the tracking server artifact proxy (mlflow server --artifacts-destination ...); log or copy the model to a proxied location',
        details: { name: info.name, version: info.version, uri },
      },
    );
  }
  return { uri, root };
}

/**
 * `mlflow-artifacts:/a/b` (or `:///a/b`) -> `a/b`. The `mlflow-artifacts://host/...` form names
 * another server's proxy (MLflow's client goes to that host), so it is not treated as this one's.
 */
function proxiedPath(uri: string): string | undefined {
  const m = /^mlflow-artifacts:(?:\/\/\/|\/(?!\/))\/*(.*)$/.exec(uri);
  if (m?.[1] === undefined) return undefined;
  return m[1].replace(/\/+$/, '');
}

function joinUri(base: string, path: string): string {
  if (path === '') return base;
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
