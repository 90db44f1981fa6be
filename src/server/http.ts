// The one file that touches the socket: node:http in, a fetch-shaped handler
// `(Request) => Promise<Response>` (as hono does) in the middle, node:http out. Bodies are small
// JSON here, so they are read whole, but never past `maxBodyBytes`: a declared Content-Length over
// the cap is refused before reading, and a chunked body is cut off at the cap.
// One route may be `direct` (the webhook, thousands a second): its POSTs skip the WHATWG
// Headers/Request/Response/stream objects (~11% of the endpoint's CPU in bench/webhook) and get
// node's headers and the body bytes, under the same cap, timeouts and answer framing.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeCause } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';

export type FetchHandler = (req: Request) => Promise<Response>;

/** A POST as read off the socket, before any WHATWG object is made. */
export interface DirectRequest {
  /** Header values by lower-case name; repeated headers joined with ", " (as Headers.get does). */
  headers: { get(name: string): string | null };
  body: Buffer;
}

/** Sent as `application/json`, framed exactly like a `Response.json(body, {status, headers})`. */
export interface JsonAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface DirectRoute {
  /** Only POSTs whose request target is exactly this path (optionally with a query) come here. */
  path: string;
  handle: (req: DirectRequest) => Promise<JsonAnswer>;
}

export interface ListenOptions {
  host: string;
  port: number;
  handler: FetchHandler;
  /** Served without WHATWG objects; any other request (or spelling of the path) goes to `handler`. */
  direct?: DirectRoute | undefined;
  maxBodyBytes: number;
  /** The answer to a body over the cap; gets the request without its body (the app counts it). */
  tooLarge: (req: Request) => Response;
  log?: Logger;
}

export interface HttpServer {
  /** http://host:port actually bound (port 0 picks a free one). */
  url: string;
  port: number;
  /** Stop accepting; idle keep-alive connections close now, busy ones after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** After a 413, bytes still discarded so the client reads the answer instead of a reset. */
const DRAIN_AFTER_REFUSAL = 256 * 1024;
const BASE = 'http://kiln.invalid';

export function listen(opts: ListenOptions): Promise<HttpServer> {
  const log = opts.log ?? silentLogger;
  const server = createServer(
    // Slow or stuck clients must not hold sockets: MLflow sends one small POST and waits.
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      serve(req, res, opts).catch((e: unknown) => {
        log.error('HTTP handler failed', { error: describeCause(e), path: req.url });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal"}\n');
      });
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${host}:${addr.port}`,
        port: addr.port,
        close: (graceMs) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

async function serve(req: IncomingMessage, res: ServerResponse, opts: ListenOptions): Promise<void> {
  const method = req.method ?? 'GET';
  if (method === 'POST' && opts.direct && isPath(req.url, opts.direct.path)) {
    return serveDirect(req, res, opts, opts.direct);
  }
  let url: URL;
  let headers: Headers;
  try {
    url = new URL(req.url ?? '/', BASE);
    headers = fetchHeaders(req);
  } catch {
    return send(res, new Response('{"error":"bad request"}\n', { status: 400 }));
  }
  if (method === 'GET' || method === 'HEAD') {
    req.resume();
    return send(res, await opts.handler(new Request(url, { method, headers })));
  }
  const body = await readCapped(req, opts.maxBodyBytes);
  if (body === undefined) {
    await send(res, opts.tooLarge(new Request(url, { method, headers })), { connection: 'close' });
    drainThenClose(req);
    return;
  }
  await send(res, await opts.handler(new Request(url, { method, headers, body })));
}

/**
 * The request target is the path itself, or the path and a query. Anything else (dot segments,
 * percent-encoding, absolute form) takes the general path, where URL parsing normalises it.
 */
export function isPath(target: string | undefined, path: string): boolean {
  if (target === undefined || !target.startsWith(path)) return false;
  return target.length === path.length || target.charCodeAt(path.length) === 63; // '?'
}

async function serveDirect(
  req: IncomingMessage,
  res: ServerResponse,
  opts: ListenOptions,
  route: DirectRoute,
) {
  const body = await readCapped(req, opts.maxBodyBytes);
  if (body === undefined) {
    const url = new URL(req.url ?? '/', BASE);
    await send(res, opts.tooLarge(new Request(url, { method: 'POST', headers: fetchHeaders(req) })), {
      connection: 'close',
    });
    drainThenClose(req);
    return;
  }
  const headers = req.headers;
  const answer = await route.handle({
    headers: {
      get: (name) => {
        const v = headers[name];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body,
  });
  // Response.json's framing: its body is JSON.stringify's text, its content-type application/json.
  writeAnswer(
    res,
    answer.status,
    { 'content-type': 'application/json', ...answer.headers },
    JSON.stringify(answer.body),
  );
}

/** The body, or undefined as soon as it is known to exceed `max` (reading stops there). */
function readCapped(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Closing a socket with unread bytes makes the kernel send a reset, and the client may then never
 * see the 413. Discard (not keep) a bounded amount more, as Go's net/http does, then hang up.
 */
function drainThenClose(req: IncomingMessage): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DRAIN_AFTER_REFUSAL) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

function fetchHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

async function send(res: ServerResponse, answer: Response, extra: Record<string, string> = {}) {
  const body = answer.body ? Buffer.from(await answer.arrayBuffer()) : undefined;
  const headers: Record<string, string> = { ...extra };
  answer.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (body && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  writeAnswer(res, answer.status, headers, body);
}

/**
 * The one place answers are written, so both paths frame them the same way. Bodies are whole, so
 * they go out with Content-Length: node then sends head and body in one write, where a chunked
 * answer took a writev of five pieces (and its client a chunk parser).
 */
function writeAnswer(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Buffer | string | undefined,
): void {
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}
