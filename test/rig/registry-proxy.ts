// An in-process HTTP(S) proxy in front of a real registry, for the faults a real registry will
// not produce on demand: 429 bursts, 5xx, a bearer token realm, redirects to another host, bytes
// swapped on the way. Each test passes a handler that decides per request: answer itself, or
// `forward()` to the registry (optionally rewriting the path or the response headers).
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface SeenRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface ForwardOptions {
  /** Send this path (and query) upstream instead of the request's. */
  path?: string;
  /** Extra request headers for the registry. */
  requestHeaders?: Record<string, string>;
  /** Rewrite the registry's response headers before they go back. */
  responseHeaders?: (headers: IncomingHttpHeaders, status: number) => IncomingHttpHeaders;
}

export type ProxyHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  forward: (opts?: ForwardOptions) => Promise<void>,
) => void | Promise<void>;

export interface RegistryProxy {
  /** `IP:PORT` to use as the registry host. */
  host: string;
  url: string;
  seen: SeenRequest[];
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Bind address; any 127.x.y.z works on Linux, so a second "host" needs no DNS. */
  bind?: string;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

/** Forward one request to `upstream` (`host:port`), body and response streamed both ways. */
export async function forwardTo(
  upstream: string,
  req: IncomingMessage,
  res: ServerResponse,
  opts: ForwardOptions = {},
): Promise<void> {
  const [hostname, port] = upstream.split(':');
  const up = request({
    hostname,
    port: Number(port),
    method: req.method,
    path: opts.path ?? req.url,
    // Host is kept: the registry builds absolute Locations from it, so they point back at the proxy.
    headers: { ...req.headers, ...opts.requestHeaders },
  });
  const answered = new Promise<void>((resolve, reject) => {
    up.on('response', (r) => {
      const headers = opts.responseHeaders
        ? opts.responseHeaders({ ...r.headers }, r.statusCode ?? 502)
        : r.headers;
      res.writeHead(r.statusCode ?? 502, headers);
      pipeline(r, res).then(resolve, reject);
    });
    up.on('error', reject);
  });
  await Promise.all([pipeline(req, up), answered]);
}

export async function startProxy(
  upstream: string,
  handler?: ProxyHandler,
  opts: ProxyOptions = {},
): Promise<RegistryProxy> {
  const seen: SeenRequest[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    // Behind TLS, tell the registry so its Locations say https (distribution honours X-Forwarded-Proto).
    const proto: Record<string, string> = opts.tls ? { 'x-forwarded-proto': 'https' } : {};
    const forward = (o?: ForwardOptions) =>
      forwardTo(upstream, req, res, { ...o, requestHeaders: { ...proto, ...o?.requestHeaders } });
    Promise.resolve(handler ? handler(req, res, forward) : forward()).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, onRequest) : createHttpServer(onRequest);
  const bind = opts.bind ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, bind, resolve));
  const { port } = server.address() as AddressInfo;
  const host = `${bind}:${port}`;
  return {
    host,
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answer with a JSON body. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Read a request body fully (small ones: token forms). */
export async function readAll(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c;
  return s;
}
