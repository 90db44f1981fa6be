// One etcd member on free loopback ports, data in a given directory (a fresh one, or a copy of a
// cached template: --force-new-cluster makes a copied data dir a one-member cluster here).
import { join } from 'node:path';
import { freePort, type Service, startService } from './proc.ts';

export interface Etcd {
  url: string;
  service: Service;
}

export async function startEtcd(dataDir: string, logDir: string): Promise<Etcd> {
  const [port, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({
    name: 'etcd',
    cmd: 'etcd',
    args: [
      '--name=kiln-test',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=kiln-test=http://127.0.0.1:${peer}`,
      '--force-new-cluster',
      // One member: no peers to wait for, so elect fast (defaults 100/1000 ms cost ~1 s per start).
      '--heartbeat-interval=10',
      '--election-timeout=50',
      // The control plane writes leases and events all the time; the default 100k-revision
      // history is never needed by a test.
      '--auto-compaction-retention=1m',
      '--log-level=warn',
      '--logger=zap',
    ],
    logFile: join(logDir, 'etcd.log'),
    ready: async () => (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).ok,
    timeoutMs: 30_000,
  });
  return { url, service };
}
