// model-versions/search for one model, newest first (the dashboard's version list). MLflow pages
// with page_token; one page of `max` is enough for a screen, so no more are read.

import { z } from 'zod';
import type { MlflowClient } from './client.ts';
import { type ModelVersionInfo, ModelVersionJson, parseJson, toModelVersionInfo } from './types.ts';

const SearchResponse = z.object({
  model_versions: z.array(ModelVersionJson).optional(),
  next_page_token: z.string().optional(),
});

export async function searchModelVersions(
  client: MlflowClient,
  name: string,
  max = 100,
  signal?: AbortSignal,
): Promise<{ versions: ModelVersionInfo[]; more: boolean }> {
  const what = `search versions of ${name}`;
  // MLflow's filter grammar quotes strings with ' and escapes ' by doubling it is not supported,
  // backslash-escaping is (SearchUtils): names with quotes are rare but must not break the query.
  const filter = `name='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const data = await client.getJson(
    'api/2.0/mlflow/model-versions/search',
    { filter, max_results: String(max), order_by: 'version_number DESC' },
    what,
    signal,
  );
  const body = parseJson(SearchResponse, data, { what, method: 'GET', url: client.baseUrl.href });
  const versions = (body.model_versions ?? []).map((mv) => toModelVersionInfo(mv));
  // Sorted here as well: ordering by version_number is not honoured by every MLflow store.
  versions.sort((a, b) => Number(b.version) - Number(a.version));
  return { versions, more: Boolean(body.next_page_token) };
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
