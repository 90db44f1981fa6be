// `model-versions/search` (paged with page_token / next_page_token, FIELD-NOTES "MLflow"): every
// version of one registered model, with its tags. `kiln history` reads kiln's write-back tags
// (kiln.image, kiln.digest, ...) from here when there is no kiln serve state.
import { z } from 'zod';
import type { MlflowClient } from './client.ts';
import { type ModelVersionInfo, ModelVersionJson, parseJson, toModelVersionInfo } from './types.ts';

const SearchResponse = z.object({
  model_versions: z.array(ModelVersionJson).optional(),
  next_page_token: z.string().optional(),
});

/** All versions of `name`, newest (highest version number) first. */
export async function searchModelVersions(client: MlflowClient, name: string): Promise<ModelVersionInfo[]> {
  const what = `search versions of ${name}`;
  const out: ModelVersionInfo[] = [];
  let token: string | undefined;
  do {
    // MLflow's filter grammar: a single-quoted string; a quote inside the name is doubled... not
    // accepted by every backend, so names with quotes are refused by MLflow itself anyway.
    const query: Record<string, string> = { filter: `name='${name}'`, max_results: '1000' };
    if (token) query['page_token'] = token;
    const data = await client.getJson('api/2.0/mlflow/model-versions/search', query, what);
    const page = parseJson(SearchResponse, data, { what, method: 'GET', url: client.baseUrl.href });
    for (const mv of page.model_versions ?? []) out.push(toModelVersionInfo(mv));
    token = page.next_page_token || undefined;
  } while (token);
  return out.sort((a, b) => Number(b.version) - Number(a.version));
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
