// A TLS-terminating proxy in front of the real test API server, for fault injection: a hook
// runs before each request is forwarded (e.g. another writer changes the object first, so the
// request kiln already built arrives stale). It presents the rig's serving certificate and
// forwards with the rig's client certificate, so kiln sees an ordinary API server.
import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KubeRig } from './kube.ts';

export interface ProxiedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
}

export interface KubeProxy {
  url: string;
  kubeconfigPath: string;
  requests: ProxiedRequest[];
  stop(): Promise<void>;
}

export async function startKubeProxy(
  rig: KubeRig,
  before: (req: ProxiedRequest) => Promise<void> = async () => {},
): Promise<KubeProxy> {
  const requests: ProxiedRequest[] = [];
  const server = createServer(
    { cert: await readFile(rig.serving.cert), key: await readFile(rig.serving.key) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const seen = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          contentType: req.headers['content-type'],
        };
        requests.push(seen);
        try {
          await before(seen);
        } catch (e) {
          res.writeHead(502).end(String(e));
          return;
        }
        const headers = { ...req.headers };
        delete headers.host;
        const upstream = request(
          `${rig.server}${seen.path}`,
          { method: seen.method, headers, ca: rig.tls.ca, cert: rig.tls.cert, key: rig.tls.key },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', (e) => res.writeHead(502).end(String(e)));
        upstream.end(Buffer.concat(chunks));
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigPath = join(rig.dir, `kubeconfig-proxy-${Date.now()}`);
  await rig.writeKubeconfig(kubeconfigPath, url);
  return {
    url,
    kubeconfigPath,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
