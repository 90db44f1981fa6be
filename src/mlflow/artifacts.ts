// Every file of a version's model directory, through the artifact proxy's list route
// `GET /api/2.0/mlflow-artifacts/artifacts?path=<dir>`. Checked on 3.17.2: entries are
// `{path: <basename>, is_dir, file_size}`, unpaged, one level deep (kiln recurses); a missing
// directory and a file path both answer 200 `{}`, so an empty model directory is an error here.
import { KilnError } from '../errors.ts';
import type { MlflowClient } from './client.ts';
import { mlflowBadResponse } from './errors.ts';
import { locateModelDir } from './location.ts';
import type { ArtifactFile, ModelVersionInfo } from './types.ts';

export const ARTIFACTS_API = 'api/2.0/mlflow-artifacts/artifacts';
/** Deeper than any real model; stops a server-side symlink loop from recursing forever. */
const MAX_DEPTH = 64;

/** Sorted by path in byte order (UTF-8), paths relative to the model directory, as MLflow named them. */
export async function listModelFiles(client: MlflowClient, info: ModelVersionInfo): Promise<ArtifactFile[]> {
  const { root, uri } = await locateModelDir(client, info);
  const files: ArtifactFile[] = [];
  await walk(client, root, '', 0, files);
  if (files.length === 0) {
    throw new KilnError(
      'MODEL_FILES_NOT_FOUND',
      `model ${info.name}/${info.version} has no files at ${uri}`,
      {
        hint: 'the version was registered but its files are missing or still uploading: check the run in MLflow',
        details: { name: info.name, version: info.version, uri },
      },
    );
  }
  return files.sort((a, b) => compareBytes(a.path, b.path));
}

async function walk(client: MlflowClient, root: string, rel: string, depth: number, out: ArtifactFile[]) {
  if (depth > MAX_DEPTH) {
    throw new KilnError(
      'ARTIFACT_LISTING_INVALID',
      `artifact directory ${root}/${rel} is nested over ${MAX_DEPTH} levels`,
    );
  }
  const dir = rel === '' ? root : `${root}/${rel}`;
  const what = `list artifacts in ${dir}`;
  const data = (await client.getJson(ARTIFACTS_API, { path: dir }, what)) as { files?: unknown };
  const entries = data.files ?? [];
  if (!Array.isArray(entries))
    throw mlflowBadResponse({ what, method: 'GET', url: dir }, '"files" is not a list');
  for (const entry of entries) {
    const e = checkEntry(entry, dir);
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDir) await walk(client, root, path, depth + 1, out);
    else out.push({ path, size: e.size });
  }
}

function checkEntry(entry: unknown, dir: string): { name: string; isDir: boolean; size: number } {
  const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
  const bad = (problem: string) =>
    new KilnError(
      'ARTIFACT_LISTING_INVALID',
      `MLflow listed an entry in ${dir} ${problem}: ${JSON.stringify(entry)}`,
      {
        hint: 'the artifact store answered something kiln cannot trust; check the server and its artifact store',
        details: { dir, entry },
      },
    );
  if (typeof e['path'] !== 'string' || e['path'] === '') throw bad('whose path is not a string');
  const isDir = e['is_dir'] === true;
  if (isDir) return { name: e['path'], isDir, size: 0 };
  const raw = e['file_size'];
  const size = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw bad('without a valid file_size');
  return { name: e['path'], isDir, size };
}

/** Byte order of the UTF-8 encodings (JS string comparison orders UTF-16 code units instead). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
