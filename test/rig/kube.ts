// A real Kubernetes API for tests, no cluster needed: Debian's etcd plus the standalone
// k8s.io/apiextensions-apiserver (built by `scripts/setup go`), with KServe's real
// InferenceService CRD installed so every object kiln writes is validated by KServe's schema.
// The CRD comes from the KServe Go module at the pinned version (copied by `scripts/setup kube`).
// Flags and client-certificate auth as in FIELD-NOTES.md ("A real Kubernetes API for tests").
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ISVC_PATH, type KubeTls, kubeRequest } from './kube-api.ts';
import { kubeconfigYaml, makeCerts } from './kube-certs.ts';
import { freePort, run, type Service, sleep, startService, TOOLS_DIR, tempDir, toolPath } from './proc.ts';
import { requireTool } from './start-all.ts';

/** KServe's config/ folder (CRDs, webhooks, configmap, runtimes) of github.com/kserve/kserve at the pinned version. */
export const KSERVE_CONFIG_DIR = join(TOOLS_DIR, 'kserve', 'config');
export const CRD_FILE = join(KSERVE_CONFIG_DIR, 'crd', 'full', 'serving.kserve.io_inferenceservices.yaml');

export interface KubeRig {
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  dir: string;
  /** PEM contents of the CA, the client certificate (O=system:masters) and its key. */
  tls: KubeTls;
  /** Paths of the serving certificate and key (a test proxy can present them too). */
  serving: { cert: string; key: string };
  /** Milliseconds from the call to a served, Established CRD (reported by tests), and per phase. */
  startupMs: number;
  phases: Record<string, number>;
  /** Stop only the API server (etcd keeps the data); `startApiServer` brings it back on the same port. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** Write a kubeconfig for the same client certificate pointing at another server URL. */
  writeKubeconfig(
    path: string,
    server: string,
    opts?: { context?: string; namespace?: string },
  ): Promise<void>;
  stop(): Promise<void>;
}

export async function startKube(): Promise<KubeRig> {
  requireTool(CRD_FILE, "KServe's InferenceService CRD", 'kube');
  requireTool(toolPath('apiextensions-apiserver'), 'apiextensions-apiserver', 'go');
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const mark = (name: string, since: number): void => {
    phases[name] = Math.round(performance.now() - since);
  };
  const template = await ensureTemplate();
  mark('template', t0);
  const dir = await tempDir('kube');
  const t1 = performance.now();
  await cp(template, join(dir.path, 'etcd'), { recursive: true });
  mark('copy', t1);
  let launched: Launched;
  try {
    launched = await launch(dir.path, phases);
    // The CRD is already stored (and Established) in the copied etcd data: wait until it is served.
    await waitServed(launched.server, launched.tls);
  } catch (e) {
    await dir.remove();
    throw e;
  }
  const { server, tls } = launched;
  const writeKubeconfig: KubeRig['writeKubeconfig'] = (path, url, opts = {}) =>
    writeFile(path, kubeconfigYaml(url, tls, opts.context ?? 'kiln-test', opts.namespace));
  const kubeconfigPath = join(dir.path, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, server);
  return {
    kubeconfigPath,
    server,
    dir: dir.path,
    tls,
    serving: { cert: join(dir.path, 'serving.crt'), key: join(dir.path, 'serving.key') },
    startupMs: Math.round(performance.now() - t0),
    phases,
    stopApiServer: launched.stopApiServer,
    startApiServer: launched.startApiServer,
    writeKubeconfig,
    stop: async () => {
      await launched.stop();
      await dir.remove();
    },
  };
}

interface Launched {
  server: string;
  tls: KubeTls;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** etcd (data in DIR/etcd) and the API server on free ports, with fresh certificates in DIR. */
async function launch(dir: string, phases: Record<string, number>): Promise<Launched> {
  const t0 = performance.now();
  const d = (f: string) => join(dir, f);
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  // etcd does not need the certificates: start it while openssl works.
  const etcdStart = startService({
    name: 'etcd',
    cmd: 'etcd',
    args: [
      '--name=kiln-test',
      `--data-dir=${d('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=kiln-test=http://127.0.0.1:${peerPort}`,
      // A copied data dir remembers the template's peer URL; this makes it a one-member cluster here.
      '--force-new-cluster',
      // One member: no peers to wait for, so elect fast (defaults 100/1000 ms cost ~1 s per start).
      '--heartbeat-interval=10',
      '--election-timeout=50',
      '--log-level=warn',
      '--logger=zap',
    ],
    logFile: d('etcd.log'),
    ready: async () =>
      (await fetch(`http://127.0.0.1:${etcdPort}/health`, { signal: AbortSignal.timeout(1000) })).ok,
    timeoutMs: 30_000,
  });
  const mark = (name: string) => () => {
    phases[name] = Math.round(performance.now() - t0);
  };
  const settled = await Promise.allSettled([
    etcdStart.finally(mark('etcd')),
    makeCerts(dir).finally(mark('certs')),
  ]);
  const etcd = settled[0].status === 'fulfilled' ? settled[0].value : undefined;
  const failure = settled.find((r) => r.status === 'rejected');
  if (failure) {
    await etcd?.stop();
    throw failure.reason;
  }
  const tls: KubeTls = {
    ca: await readFile(d('ca.crt'), 'utf8'),
    cert: await readFile(d('client.crt'), 'utf8'),
    key: await readFile(d('client.key'), 'utf8'),
  };
  const server = `https://127.0.0.1:${apiPort}`;
  // A kubeconfig the apiserver needs to start but never contacts (authn/authz delegation is off).
  await writeFile(
    d('fake-kubeconfig'),
    'apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "http://127.1.2.3:12345"}}]\n' +
      'contexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\nusers: [{name: x, user: {username: x, password: x}}]\n',
  );
  let api: Service | undefined;
  const startApiServer = async (): Promise<void> => {
    api = await startService({
      name: 'apiextensions-apiserver',
      cmd: toolPath('apiextensions-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${d('serving.crt')}`,
        `--tls-private-key-file=${d('serving.key')}`,
        `--client-ca-file=${d('ca.crt')}`,
        '--authentication-skip-lookup',
        `--authentication-kubeconfig=${d('fake-kubeconfig')}`,
        `--authorization-kubeconfig=${d('fake-kubeconfig')}`,
        `--kubeconfig=${d('fake-kubeconfig')}`,
        '--enable-priority-and-fairness=false',
        '--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy',
        '--profiling=false',
        '--enable-garbage-collector=false',
      ],
      logFile: d(`apiserver-${Date.now()}.log`),
      ready: async () => (await kubeRequest(server, tls, 'GET', '/healthz')).status === 200,
      timeoutMs: 60_000,
    });
  };
  try {
    await startApiServer();
    mark('apiserver')();
  } catch (e) {
    await etcd?.stop();
    throw e;
  }
  return {
    server,
    tls,
    startApiServer,
    stopApiServer: async () => {
      await api?.stop();
      api = undefined;
    },
    stop: async () => {
      await api?.stop();
      await etcd?.stop();
    },
  };
}

/**
 * Creating the 1.9 MB CRD costs ~8 s of API-server CPU (create, NamesAccepted, Established: each a
 * full decode and validation of the schema). Do it once per (CRD, apiserver, etcd) and keep the
 * etcd data dir in the tools cache; every rig starts from a copy and is served in ~2 s.
 */
async function ensureTemplate(): Promise<string> {
  const stamp = await readFile(toolPath('.apiextensions-apiserver.version'), 'utf8').catch(() => 'unknown');
  const key = createHash('sha256')
    .update(await readFile(CRD_FILE))
    .update(stamp)
    .update((await run('etcd', ['--version'])).stdout)
    .digest('hex')
    .slice(0, 16);
  const root = join(TOOLS_DIR, 'kube-template');
  const template = join(root, key);
  if (existsSync(template)) return template;
  const work = await tempDir('kube-template');
  try {
    const launched = await launch(work.path, {});
    try {
      await installCrd(launched.server, launched.tls);
    } finally {
      await launched.stop(); // etcd stopped cleanly before its data dir is copied
    }
    await mkdir(root, { recursive: true });
    const staging = join(root, `.staging-${process.pid}-${Date.now()}`);
    await cp(join(work.path, 'etcd'), staging, { recursive: true });
    // Two test files may build it at once: the first rename wins, the other copy is dropped.
    await rename(staging, template).catch(async () => rm(staging, { recursive: true, force: true }));
    return template;
  } finally {
    await work.remove();
  }
}

/** Create the 1.9 MB CRD as plain YAML (no client-side apply annotation) and wait until it is served. */
async function installCrd(server: string, tls: KubeTls): Promise<void> {
  const body = await readFile(CRD_FILE, 'utf8');
  const created = await kubeRequest(
    server,
    tls,
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    body,
    'application/yaml',
  );
  if (created.status !== 201)
    throw new Error(`creating the KServe CRD failed: ${created.status} ${created.text}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const crd = await kubeRequest(
      server,
      tls,
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/inferenceservices.serving.kserve.io',
    );
    const established = (crd.json?.status?.conditions ?? []).some(
      (c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True',
    );
    if (established) return waitServed(server, tls);
    await sleep(50);
  }
  throw new Error('the KServe CRD did not become Established within 30 s');
}

/** Established can precede the handler: wait for the InferenceService list to answer. */
async function waitServed(server: string, tls: KubeTls): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await kubeRequest(server, tls, 'GET', `${ISVC_PATH}/inferenceservices`)).status === 200) return;
    await sleep(50);
  }
  throw new Error('InferenceServices were not served within 30 s of the API server starting');
}

export {
  applyAs,
  getIsvc,
  ISVC_PATH,
  isvcPath,
  type KubeResponse,
  type KubeTls,
  kubeRequest,
  writeIsvcStatus,
} from './kube-api.ts';
