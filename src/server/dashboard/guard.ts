// Who may act, and from where. Reads are open (read-only by default); every POST must
//  1. come from this origin: a browser's Sec-Fetch-Site / Origin naming another site is refused,
//     so a page elsewhere cannot drive a signed-in person's browser (CSRF);
//  2. be JSON: an HTML form can only send urlencoded, multipart or text/plain bodies;
//  3. carry `Authorization: Bearer TOKEN` naming a configured token. Browsers never attach that
//     header by themselves (unlike cookies), which on its own defeats cross-site requests; 1 and 2
//     are defence in depth and give a clear answer.
import type { TokenSet } from './tokens.ts';

export type Guarded = { ok: true; who: string } | { ok: false; response: Response };

export function guardAction(req: Request, tokens: TokenSet): Guarded {
  const site = req.headers.get('sec-fetch-site');
  const origin = req.headers.get('origin');
  const host = req.headers.get('host');
  if (
    (site !== null && site !== 'same-origin' && site !== 'none') ||
    (origin !== null && !sameHost(origin, host))
  ) {
    return refuse(
      403,
      'cross_site',
      `refused a cross-site request (Origin ${origin ?? '-'}, Sec-Fetch-Site ${site ?? '-'})`,
    );
  }
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    return refuse(415, 'not_json', 'actions take a JSON body (content-type: application/json)');
  }
  if (tokens.size === 0) {
    return refuse(
      403,
      'read_only',
      'this kiln serve is read-only: no dashboard tokens are configured (KILN_DASHBOARD_TOKENS or KILN_DASHBOARD_TOKENS_FILE)',
    );
  }
  const auth = req.headers.get('authorization') ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  const who = m ? tokens.who(m[1] as string) : undefined;
  if (!who) {
    return refuse(
      401,
      m ? 'bad_token' : 'no_token',
      m ? 'the token is not one of the configured tokens' : 'actions need Authorization: Bearer TOKEN',
      {
        'www-authenticate': 'Bearer realm="kiln"',
      },
    );
  }
  return { ok: true, who };
}

/** The token's name for a GET /api/session, or undefined. */
export function whoIs(req: Request, tokens: TokenSet): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '');
  return m ? tokens.who(m[1] as string) : undefined;
}

function sameHost(origin: string, host: string | null): boolean {
  try {
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function refuse(
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {},
): Guarded {
  return { ok: false, response: Response.json({ error, message }, { status, headers }) };
}
