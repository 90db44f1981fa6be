// The dashboard's page: one HTML shell, a few ES modules, one stylesheet, one icon, shipped as files
// beside the code (src/server/ui, copied to dist/server/ui by `npm run build`) and read once at
// start. No CDN, no web font: the page works in an air gap. Each page has its own URL (/, /models/
// NAME, /promotions/ID), all served the same shell; the script renders from the /api JSON.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { KilnError } from '../../errors.ts';

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

export type Assets = Map<string, Asset>;

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'session.js': 'text/javascript; charset=utf-8',
  'models-page.js': 'text/javascript; charset=utf-8',
  'model-page.js': 'text/javascript; charset=utf-8',
  'promotion-page.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** Inline scripts and styles are refused; everything comes from this origin; no framing (clickjacking). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Where the files are: beside this module's folder (src/server/ui from the sources), dist/server/ui
 * from the bundle (scripts/build.ts puts this module in a chunk under dist/cli/chunks/), or the
 * source tree's copy.
 */
export function uiDir(): string {
  const candidates = [
    new URL('../ui/', import.meta.url),
    new URL('../../server/ui/', import.meta.url),
    new URL('../../../src/server/ui/', import.meta.url),
  ];
  for (const c of candidates) if (existsSync(new URL('index.html', c))) return fileURLToPath(c);
  throw new KilnError(
    'DASHBOARD_ASSETS_MISSING',
    `the dashboard's files are not at ${fileURLToPath(candidates[0]!)}`,
    {
      hint: 'build with `npm run build` (it copies src/server/ui to dist/server/ui)',
    },
  );
}

export function loadAssets(dir = uiDir()): Assets {
  const out: Assets = new Map();
  for (const [name, type] of Object.entries(FILES)) {
    const body = readFileSync(`${dir}/${name}`);
    const etag = `"${hash(body)}"`;
    out.set(name, { body, gzip: gzipSync(body, { level: 9 }), type, etag });
  }
  return out;
}

const PAGE = /^\/(?:models\/[^/]+|promotions\/\d+)?\/?$/;

/** The shell for a page URL, a file under /ui/, or undefined when the path is not the page's. */
export function servePage(assets: Assets, pathname: string, req: Request): Response | undefined {
  let name: string | undefined;
  if (PAGE.test(pathname)) name = 'index.html';
  else if (pathname.startsWith('/ui/')) name = pathname.slice(4);
  else if (pathname === '/favicon.ico') name = 'icon.svg';
  if (name === undefined) return undefined;
  const a = assets.get(name);
  if (!a) return Response.json({ error: 'not_found', message: `no file ${pathname}` }, { status: 404 });
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return Response.json({ error: 'method_not_allowed' }, { status: 405, headers: { allow: 'GET, HEAD' } });
  }
  const gz = /\bgzip\b/.test(req.headers.get('accept-encoding') ?? '');
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'content-type': a.type,
    etag: a.etag,
    vary: 'accept-encoding',
    // The shell is revalidated (a new kiln version ships new files); the ETag makes that a 304.
    'cache-control': 'no-cache',
  };
  if (req.headers.get('if-none-match') === a.etag) return new Response(null, { status: 304, headers });
  if (gz) headers['content-encoding'] = 'gzip';
  return new Response(req.method === 'HEAD' ? null : new Uint8Array(gz ? a.gzip : a.body), { headers });
}

const hash = (b: Buffer): string => createHash('sha256').update(b).digest('base64url').slice(0, 22);
