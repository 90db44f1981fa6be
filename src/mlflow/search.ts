// `model-versions/search` (paged with page_token / next_page_token, FIELD-NOTES "MLflow") and
// `registered-models/search`: `kiln history` reads kiln's write-back tags (kiln.image,
// kiln.digest, ...) from every version when there is no kiln serve state; the dashboard reads one
// screen of versions, newest first, and every model's aliases in one request.

import { z } from 'zod';
import type { MlflowClient } from './client.ts';
import { type ModelVersionInfo, ModelVersionJson, parseJson, toModelVersionInfo } from './types.ts';

const SearchResponse = z.object({
  model_versions: z.array(ModelVersionJson).optional(),
  next_page_token: z.string().optional(),
});

/**
 * Versions of `name`, newest (highest version number) first: every version, or with `max` one
 * page of at most `max` (then `more` says whether MLflow has older ones).
 */
export async function searchModelVersions(
  client: MlflowClient,
  name: string,
  opts: { max?: number; signal?: AbortSignal } = {},
): Promise<{ versions: ModelVersionInfo[]; more: boolean }> {
  const what = `search versions of ${name}`;
  // MLflow's filter grammar quotes strings with ' and backslash-escapes inside them (SearchUtils):
  // names with quotes are rare but must not break the query.
  const filter = `name='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const versions: ModelVersionInfo[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = {
      filter,
      max_results: String(opts.max ?? 1000),
      order_by: 'version_number DESC',
    };
    if (token) query['page_token'] = token;
    const data = await client.getJson('api/2.0/mlflow/model-versions/search', query, what, opts.signal);
    const page = parseJson(SearchResponse, data, { what, method: 'GET', url: client.baseUrl.href });
    for (const mv of page.model_versions ?? []) versions.push(toModelVersionInfo(mv));
    token = page.next_page_token || undefined;
  } while (token && opts.max === undefined);
  // Sorted here as well: ordering by version_number is not honoured by every MLflow store.
  versions.sort((a, b) => Number(b.version) - Number(a.version));
  return { versions, more: token !== undefined };
}

/** `model-versions/delete-tag`; a tag that is already gone is fine. */
export async function deleteModelVersionTag(
  client: MlflowClient,
  name: string,
  version: string,
  key: string,
): Promise<void> {
  await client.deleteJson(
    'api/2.0/mlflow/model-versions/delete-tag',
    { name, version, key },
    `delete tag ${key} of ${name}/${version}`,
  );
}

const RegisteredModelsPage = z.object({
  registered_models: z
    .array(
      z.object({
        name: z.string(),
        aliases: z.array(z.object({ alias: z.string(), version: z.string() })).optional(),
      }),
    )
    .optional(),
  next_page_token: z.string().optional(),
});

/**
 * Every registered model's aliases (name -> alias -> version) with registered-models/search:
 * a page of up to 1000 models per request instead of one alias read per model.
 */
export async function allModelAliases(
  client: MlflowClient,
  signal?: AbortSignal,
): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  let pageToken: string | undefined;
  do {
    const what = 'search registered models';
    const data = await client.getJson(
      'api/2.0/mlflow/registered-models/search',
      { max_results: '1000', ...(pageToken ? { page_token: pageToken } : {}) },
      what,
      signal,
    );
    const page = parseJson(RegisteredModelsPage, data, { what, method: 'GET', url: client.baseUrl.href });
    for (const m of page.registered_models ?? []) {
      out.set(m.name, Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, a.version])));
    }
    pageToken = page.next_page_token || undefined;
  } while (pageToken);
  return out;
}
