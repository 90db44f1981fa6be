// Redirects for GET/HEAD: registries send blob downloads to object storage (S3, GCS, a CDN) with
// 307/302. Authorization is meant for the registry only: it is dropped as soon as a hop leaves
// the registry's origin (scheme + host + port), as Docker and Go's net/http do for other hosts;
// the storage URL carries its own signature.
import type { IncomingMessage } from 'node:http';
import { KilnError } from '../../errors.ts';
import { drain, header } from './http.ts';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 10;

export async function followRedirects(
  url: URL,
  method: string,
  headers: Record<string, string>,
  sendOne: (url: URL, headers: Record<string, string>) => Promise<IncomingMessage>,
): Promise<IncomingMessage> {
  let current = url;
  let hdrs = headers;
  for (let hop = 0; ; hop++) {
    const res = await sendOne(current, hdrs);
    const location = header(res, 'location');
    if (!REDIRECTS.has(res.statusCode ?? 0) || (method !== 'GET' && method !== 'HEAD') || !location)
      return res;
    drain(res);
    if (hop >= MAX_HOPS) {
      throw new KilnError(
        'REGISTRY_ERROR',
        `${url.host} redirected ${method} ${url.pathname} more than ${MAX_HOPS} times`,
        {
          hint: 'the registry or its storage is misconfigured (a redirect loop)',
          details: { url: url.origin + url.pathname, last: current.origin + current.pathname },
        },
      );
    }
    const next = new URL(location, current);
    if (next.origin !== url.origin && hdrs['authorization'] !== undefined) {
      const { authorization: _dropped, ...rest } = hdrs;
      hdrs = rest;
    }
    current = next;
  }
}
