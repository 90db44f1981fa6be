// A fault-injecting proxy in front of a real MLflow server (the allowed pattern for failure tests:
// the server stays real, only the wire misbehaves). It records every request kiln sends and can
// answer 503s, cut download bodies mid-way, hide Range support, shorten bodies, rewrite artifact
// listings, and speak TLS with a throwaway self-signed certificate.
import { readFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { run, tempDir } from './proc.ts';

export const DOWNLOAD = '/api/2.0/mlflow-artifacts/artifacts/';

export interface Faults {
  /** Answer this many next requests with 503. */
  fail503: number;
  /** Cut this many next download bodies after `cutAt` bytes (socket closed mid-body). */
  cuts: number;
  cutAt: number;
  /** Behave like a server without Range support: drop Range/If-Range, hide Accept-Ranges. */
  noRange: boolean;
  /** Send only this many body bytes of downloads; `announce` keeps Content-Length honest about it. */
  truncateTo: number | undefined;
  announce: boolean;
  /** Rewrite the JSON of artifact listings (forces entries MLflow itself would not send). */
  mangleListing: ((json: { files?: unknown[] }) => unknown) | undefined;
}

export const NO_FAULTS: Faults = {
  fail503: 0,
  cuts: 0,
  cutAt: 0,
  noRange: false,
  truncateTo: undefined,
  announce: true,
  mangleListing: undefined,
};

export interface MlflowProxy {
  url: string;
  faults: Faults;
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function startProxy(
  upstream: string,
  tls?: { key: Buffer; cert: Buffer },
): Promise<MlflowProxy> {
  const target = new URL(upstream);
  const proxy: MlflowProxy = { url: '', faults: { ...NO_FAULTS }, seen: [], close: async () => {} };
  const handler: http.RequestListener = (req, res) => {
    const f = proxy.faults;
    proxy.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (f.fail503 > 0) {
      f.fail503--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'injected by the test proxy' }),
      );
      return;
    }
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
    if (f.noRange) {
      delete headers.range;
      delete headers['if-range'];
    }
    const up = http.request(new URL(req.url ?? '/', target), { method: req.method, headers }, (ur) => {
      const h = { ...ur.headers };
      const download = (req.url ?? '').startsWith(DOWNLOAD);
      if (f.noRange) delete h['accept-ranges'];
      const mangle = f.mangleListing;
      if (mangle !== undefined && (req.url ?? '').startsWith('/api/2.0/mlflow-artifacts/artifacts?')) {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const body = JSON.stringify(mangle(JSON.parse(Buffer.concat(chunks).toString())));
          res.writeHead(ur.statusCode ?? 502, { 'content-type': 'application/json' });
          res.end(body);
        });
        return;
      }
      if (download && f.truncateTo !== undefined) {
        const limit = f.truncateTo;
        if (f.announce) h['content-length'] = String(limit);
        else delete h['content-length']; // chunked, ends cleanly after `limit` bytes
        res.writeHead(ur.statusCode ?? 502, h);
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          const part = c.subarray(0, Math.max(0, limit - sent));
          sent += part.length;
          if (part.length > 0) res.write(part);
        });
        ur.on('end', () => res.end());
        return;
      }
      res.writeHead(ur.statusCode ?? 502, h);
      if (!download || f.cuts === 0) return void ur.pipe(res);
      f.cuts--;
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent + c.length < f.cutAt) {
          sent += c.length;
          return void res.write(c);
        }
        res.write(c.subarray(0, f.cutAt - sent), () => res.socket?.destroy());
        ur.destroy();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}

/** An https proxy with a fresh self-signed certificate for 127.0.0.1 (openssl, valid one day). */
export async function selfSignedProxy(upstream: string) {
  const dir = await tempDir('tls');
  const [key, certPath] = [`${dir.path}/key.pem`, `${dir.path}/cert.pem`];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
    ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', certPath],
  ]);
  const proxy = await startProxy(upstream, { key: await readFile(key), cert: await readFile(certPath) });
  return {
    proxy,
    certPath,
    async close() {
      await proxy.close();
      await dir.remove();
    },
  };
}
