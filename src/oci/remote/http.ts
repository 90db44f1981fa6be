// One HTTP exchange on node:http / node:https, nothing more (retries, auth and redirects live in
// transport.ts). Why not fetch: undici buffers a streamed request body whole before sending it
// (FIELD-NOTES: 1 GiB PATCH -> 1.17 GB RSS). Why no library: no maintained JS OCI client streams a
// single-pass upload with backpressure AND speaks the Basic/Bearer/credential-helper flows
// registries need, so src/oci/remote is a few small modules of our own over the node built-ins.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline, Readable } from 'node:stream';

export interface TlsOptions {
  /** Extra CA certificates (PEM) to trust, e.g. a private registry's CA. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** false skips certificate verification; only for tests and explicit opt-in. */
  rejectUnauthorized?: boolean;
}

export interface SendOptions {
  method: string;
  headers: OutgoingHttpHeaders;
  /** A buffer is sent with Content-Length; a Readable is piped with backpressure (chunked). */
  body?: Uint8Array | Readable;
  tls?: TlsOptions;
  /** Socket idle timeout: no byte either way for this long fails the request. */
  idleTimeoutMs: number;
}

/** The request body stream failed (its own error is `cause`): not the registry's fault, never retried. */
export class BodyStreamError extends Error {
  constructor(cause: unknown) {
    super('request body stream failed', { cause });
    this.name = 'BodyStreamError';
  }
}

/**
 * Send one request and resolve with the response once the body has been fully sent (or as soon as
 * the server answers with an error status: servers may reject before reading the body).
 * Rejects with the body stream's own error when the body fails, else with the socket error.
 */
export function send(url: URL, opts: SendOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(url, {
      method: opts.method,
      headers: opts.headers,
      ...(url.protocol === 'https:' ? opts.tls : {}),
    });
    req.setTimeout(opts.idleTimeoutMs, () => {
      req.destroy(Object.assign(new Error(`no data for ${opts.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    const streaming = opts.body instanceof Readable;
    let res: IncomingMessage | undefined;
    let bodySent = !streaming;
    let settled = false;
    const done = (err: unknown, r?: IncomingMessage): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(r!);
    };
    req.on('response', (r) => {
      res = r;
      // A socket torn down mid-response emits 'error' on the response; whoever reads the body sees
      // it through the stream, and an unread (drained) response must not crash the process.
      r.on('error', () => {});
      if (bodySent || (r.statusCode ?? 0) >= 400) done(null, r);
    });
    req.on('error', (e) => {
      // While a body streams, pipeline() reports the first error (the source's own, if it broke).
      if (!streaming || bodySent) done(e);
    });
    if (opts.body instanceof Readable) {
      // pipeline() hands every stream the first error; who emitted first tells whose fault it was.
      let origin: 'body' | 'request' | undefined;
      opts.body.once('error', () => {
        origin ??= 'body';
      });
      req.once('error', () => {
        origin ??= 'request';
      });
      pipeline(opts.body, req, (err) => {
        bodySent = true;
        if (err) done(origin === 'body' ? new BodyStreamError(err) : err);
        else if (res) done(null, res);
      });
    } else {
      req.end(opts.body);
    }
  });
}

/** Read a response body into memory, refusing more than `limit` bytes (manifests, errors, tokens). */
export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      throw Object.assign(new Error(`response body exceeds ${limit} bytes`), { code: 'BODY_TOO_LARGE' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Discard a response we do not read, so the socket returns to the keep-alive pool. */
export function drain(res: IncomingMessage): void {
  res.resume();
}

/** A header's single value (Node joins repeated headers with ", "). */
export function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}
