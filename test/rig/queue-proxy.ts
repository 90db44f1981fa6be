// A stand-in for Knative's queue-proxy sidecar, which is what gives KServe per-revision request
// counts and latencies (the model server's own histograms carry only model_name and no status
// code). It forwards every request to the model server container and records, under the names
// Knative >= 1.19 exports (knative/docs serving-metrics.md, OpenTelemetry -> Prometheus):
//   kn_serving_invocation_duration_seconds_{bucket,sum,count}{http_response_status_code}
// The revision and namespace labels come from Prometheus relabeling (test/rig/prometheus.ts), as
// the Kubernetes pod labels would. Metrics on their own port, like queue-proxy's 9091.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface QueueProxy {
  /** http://127.0.0.1:PORT: what the router sends requests to. */
  url: string;
  /** host:port of /metrics. */
  metricsAddress: string;
  stop(): Promise<void>;
}

export async function startQueueProxy(upstream: string): Promise<QueueProxy> {
  const byCode = new Map<string, { counts: number[]; sum: number; count: number }>();
  const observe = (code: number, seconds: number) => {
    const k = String(code);
    let h = byCode.get(k);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      byCode.set(k, h);
    }
    h.sum += seconds;
    h.count += 1;
    for (const [i, le] of BUCKETS.entries()) if (seconds <= le) h.counts[i]! += 1;
  };
  const proxy = createServer((req, res) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fetch(`${upstream}${req.url}`, {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      })
        .then(async (up) => {
          const body = Buffer.from(await up.arrayBuffer());
          observe(up.status, (performance.now() - t0) / 1000);
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
          res.end(body);
        })
        .catch(() => {
          observe(502, (performance.now() - t0) / 1000);
          res.writeHead(502).end();
        });
    });
  });
  const metrics = createServer((_req, res) => {
    const name = 'kn_serving_invocation_duration_seconds';
    const lines = [`# TYPE ${name} histogram`];
    for (const [code, h] of byCode) {
      const l = `http_response_status_code="${code}"`;
      for (const [i, le] of BUCKETS.entries()) lines.push(`${name}_bucket{${l},le="${le}"} ${h.counts[i]}`);
      lines.push(
        `${name}_bucket{${l},le="+Inf"} ${h.count}`,
        `${name}_sum{${l}} ${h.sum}`,
        `${name}_count{${l}} ${h.count}`,
      );
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  const listen = (s: Server) =>
    new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  const [p, m] = [await listen(proxy), await listen(metrics)];
  return {
    url: `http://127.0.0.1:${p}`,
    metricsAddress: `127.0.0.1:${m}`,
    stop: async () => {
      proxy.closeAllConnections();
      metrics.closeAllConnections();
      await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => metrics.close(r))]);
    },
  };
}
