// The one file that touches the socket: node:http in, a fetch-shaped handler
// `(Request) => Promise<Response>` (as hono does) in the middle, node:http out. Bodies are small
// JSON here, so they are read whole, but never past `maxBodyBytes`: a declared Content-Length over
// the cap is refused before reading, and a chunked body is cut off at the cap.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeCause } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';

export type FetchHandler = (req: Request) => Promise<Response>;

export interface ListenOptions {
  host: string;
  port: number;
  handler: FetchHandler;
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
  let url: URL;
  const headers = new Headers();
  try {
    url = new URL(req.url ?? '/', BASE);
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
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

async function send(res: ServerResponse, answer: Response, extra: Record<string, string> = {}) {
  const body = answer.body ? Buffer.from(await answer.arrayBuffer()) : undefined;
  const headers: Record<string, string> = { ...extra };
  answer.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (body && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  res.writeHead(answer.status, headers);
  res.end(body);
}
