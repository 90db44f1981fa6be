// Tag listing (distribution-spec "Listing tags"). Registries may page the list with
// `Link: <next>; rel="next"`; 2.8.2 ignores `n=` and returns everything, unsorted (FIELD-NOTES).
import { pullScope } from './blobs.ts';
import { drain, header, readBody } from './http.ts';
import type { Transport } from './transport.ts';

/** Every tag of `repo` ([] when the repository does not exist), following `Link: <...>; rel="next"`. */
export async function listTags(t: Transport, repo: string): Promise<string[]> {
  const tags: string[] = [];
  const seen = new Set<string>();
  let next: URL | undefined = new URL(`/v2/${repo}/tags/list`, t.base);
  while (next && !seen.has(next.href)) {
    seen.add(next.href);
    const res = await t.request({
      method: 'GET',
      url: next,
      scopes: [pullScope(repo)],
      ok: [200, 404],
      ctx: { what: `tag list of ${t.registry}/${repo}` },
    });
    if (res.statusCode === 404) {
      drain(res);
      return tags;
    }
    const body = JSON.parse((await readBody(res, 32 << 20)).toString('utf8')) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    const link = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(header(res, 'link') ?? '');
    next = link ? new URL(link[1]!, next) : undefined;
  }
  return tags;
}
