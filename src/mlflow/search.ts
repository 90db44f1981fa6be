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
