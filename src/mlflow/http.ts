// The socket in one file. node:http(s) rather than fetch because (1) skipping TLS verification
// or trusting a private CA (MLFLOW_TRACKING_INSECURE_TLS / _SERVER_CERT_PATH) needs only an
// https.Agent here, whereas node's fetch needs an undici Agent that node does not export, and
// (2) a download is then a plain node Readable with backpressure whose mid-body socket resets
// surface as errors we can resume from.
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { KilnError } from '../errors.ts';

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  body?: Buffer | undefined;
  signal?: AbortSignal | undefined;
  /** Socket idle timeout: no bytes for this long fails the request (also while reading the body). */
  timeoutMs: number;
  agent?: http.Agent | undefined;
}

/** Resolves with the response once its headers arrive; the caller consumes or discards the body. */
export function send(req: HttpRequest): Promise<IncomingMessage> {
  const mod = req.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const r = mod.request(
      req.url,
      {
        method: req.method,
        // A known length, not chunked: MLflow's server ignores a chunked body on DELETE
        // (model-versions/delete-tag answered "Missing value for required parameter 'name'").
        headers: req.body ? { ...req.headers, 'content-length': String(req.body.length) } : req.headers,
        agent: req.agent,
        signal: req.signal,
        timeout: req.timeoutMs,
      },
      resolve,
    );
    r.on('timeout', () => {
      const e = new Error(`no response bytes for ${req.timeoutMs} ms`) as NodeJS.ErrnoException;
      e.code = 'KILN_TIMEOUT';
      r.destroy(e);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** The whole (small) body as text; refuses bodies above `limit` bytes so a wrong URL cannot eat memory. */
export async function readText(res: IncomingMessage, limit = 32 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new KilnError(
        'MLFLOW_RESPONSE_INVALID',
        `the response from ${res.url || 'MLflow'} exceeds ${limit} bytes`,
        {
          hint: 'is MLFLOW_TRACKING_URI an MLflow tracking server?',
        },
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Discard a body we do not need, so a keep-alive socket can be reused. */
export function drain(res: IncomingMessage): void {
  res.on('error', () => {});
  res.resume();
}

/** An agent only when TLS needs non-default settings; otherwise node's global keep-alive agents. */
export function tlsAgent(opts: {
  insecureTls?: boolean | undefined;
  caCertPath?: string | undefined;
}): https.Agent | undefined {
  if (!opts.insecureTls && opts.caCertPath === undefined) return undefined;
  return new https.Agent({
    keepAlive: true,
    rejectUnauthorized: !opts.insecureTls,
    ...(opts.caCertPath !== undefined ? { ca: readFileSync(opts.caCertPath) } : {}),
  });
}
