// A real Kubernetes control plane for tests, no nodes: etcd + kube-apiserver (RBAC on, admission
// webhooks on, service-account tokens) + kube-controller-manager (Deployments, ReplicaSets, Jobs,
// service accounts, garbage collection...), all v1.36.3 built by `scripts/setup kube`.
// `startCluster({ kserve: true })` adds KServe's CRDs and its own controller (cluster-kserve.ts).
// The standalone apiextensions-apiserver rig (kube.ts) stays for tests that need only a schema.
//
// Cold start is dominated by the API server bootstrapping its RBAC roles and by installing KServe's
// CRDs (several MB of OpenAPI schema), so etcd's data dir at that point is cached once per machine
// (like kube.ts does) and every rig starts from a copy.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  installKserveResources,
  KSERVE_TEMPLATE_INPUTS,
  type KserveController,
  startKserve,
} from './cluster-kserve.ts';
import { type Etcd, startEtcd } from './etcd.ts';
import { type KubeResponse, type KubeTls, kubeRequest } from './kube-api.ts';
import { kubeconfigYaml, makeCerts } from './kube-certs.ts';
import { freePort, run, type Service, startService, TOOLS_DIR, tempDir, toolPath } from './proc.ts';
import { requireTool } from './start-all.ts';

export interface ClusterRig {
  /** https://127.0.0.1:PORT */
  server: string;
  dir: string;
  /** Admin credentials (O=system:masters). */
  tls: KubeTls;
  kubeconfigPath: string;
  /** KServe's controller, when started with `kserve: true`. */
  kserve: KserveController | undefined;
  startupMs: number;
  phases: Record<string, number>;
  /** A request as the admin; throws naming the call unless the status is in `ok`. */
  api(
    method: string,
    path: string,
    body?: unknown,
    ok?: number[],
    contentType?: string,
  ): Promise<KubeResponse>;
  writeKubeconfig(
    path: string,
    server: string,
    opts?: { context?: string; namespace?: string },
  ): Promise<void>;
  /** A kubeconfig authenticating as a service account (a real token from the TokenRequest API). */
  serviceAccountKubeconfig(namespace: string, name: string, path: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Install KServe's CRDs and run its controller with admission webhooks (default false). */
  kserve?: boolean;
}

const BINARIES = ['kube-apiserver', 'kube-controller-manager'] as const;

export async function startCluster(opts: ClusterOptions = {}): Promise<ClusterRig> {
  for (const b of BINARIES) requireTool(toolPath(b), b, 'kube');
  if (opts.kserve) requireTool(toolPath('kserve-manager'), "KServe's controller (kserve-manager)", 'kube');
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const mark = (name: string) => {
    phases[name] = Math.round(performance.now() - t0);
  };
  const template = await ensureTemplate(Boolean(opts.kserve));
  mark('template');
  const dir = await tempDir('cluster');
  const services: Service[] = [];
  let kserve: KserveController | undefined;
  const stop = async (): Promise<void> => {
    await kserve?.stop();
    // Controllers first, then the API server, then etcd.
    for (const s of services.reverse()) await s.stop();
    services.length = 0;
  };
  try {
    await cp(template, join(dir.path, 'etcd'), { recursive: true });
    const plane = await launch(dir.path, services, mark);
    const rig = plane.rig;
    const kubeconfigPath = join(dir.path, 'admin.kubeconfig');
    if (opts.kserve) {
      kserve = await startKserve(rig.server, rig.tls, dir.path, kubeconfigPath, rig.api);
      mark('kserve');
    }
    return {
      ...rig,
      dir: dir.path,
      kubeconfigPath,
      kserve,
      startupMs: Math.round(performance.now() - t0),
      phases,
      stop: async () => {
        await stop();
        await dir.remove();
      },
    };
  } catch (e) {
    await stop();
    // Keep the logs of a failed start: the error names the directory.
    throw new Error(`cluster rig failed to start (logs in ${dir.path}): ${(e as Error).message}`);
  }
}

type Plane = Omit<ClusterRig, 'dir' | 'kubeconfigPath' | 'kserve' | 'startupMs' | 'phases' | 'stop'>;

/** etcd, certificates, kube-apiserver and kube-controller-manager; every started process goes into `services`. */
async function launch(
  dir: string,
  services: Service[],
  mark: (phase: string) => void,
  withControllers = true,
): Promise<{ rig: Plane }> {
  const d = (f: string) => join(dir, f);
  const [etcdResult, certs] = await Promise.allSettled([
    startEtcd(d('etcd'), dir),
    makeCerts(dir).then(() => serviceAccountKeys(dir)),
  ]);
  if (etcdResult.status === 'fulfilled') services.push(etcdResult.value.service);
  if (etcdResult.status === 'rejected') throw etcdResult.reason;
  if (certs.status === 'rejected') throw certs.reason;
  const etcd: Etcd = etcdResult.value;
  mark('etcd');
  const tls: KubeTls = {
    ca: await readFile(d('ca.crt'), 'utf8'),
    cert: await readFile(d('client.crt'), 'utf8'),
    key: await readFile(d('client.key'), 'utf8'),
  };
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const writeKubeconfig: ClusterRig['writeKubeconfig'] = (path, url, o = {}) =>
    writeFile(path, kubeconfigYaml(url, tls, o.context ?? 'kiln-test', o.namespace));
  await writeKubeconfig(d('admin.kubeconfig'), server);
  services.push(
    await startService({
      name: 'kube-apiserver',
      cmd: toolPath('kube-apiserver'),
      args: [
        `--etcd-servers=${etcd.url}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--tls-cert-file=${d('serving.crt')}`,
        `--tls-private-key-file=${d('serving.key')}`,
        `--client-ca-file=${d('ca.crt')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${d('sa.pub')}`,
        `--service-account-signing-key-file=${d('sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        // No other API server will ever share this etcd: skip the endpoint lease loop.
        '--endpoint-reconciler-type=none',
      ],
      logFile: d('kube-apiserver.log'),
      ready: async () => (await kubeRequest(server, tls, 'GET', '/readyz')).status === 200,
      timeoutMs: 90_000,
    }),
  );
  mark('apiserver');
  const api: Plane['api'] = async (method, path, body, ok = [200, 201], contentType) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await kubeRequest(server, tls, method, path, text, contentType);
    if (!ok.includes(res.status))
      throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 500)}`);
    return res;
  };
  if (withControllers) {
    services.push(
      await startService({
        name: 'kube-controller-manager',
        cmd: toolPath('kube-controller-manager'),
        args: [
          `--kubeconfig=${d('admin.kubeconfig')}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--use-service-account-credentials=false',
          `--service-account-private-key-file=${d('sa.key')}`,
          `--root-ca-file=${d('ca.crt')}`,
          // What a control plane without nodes can use; node, volume and cloud loops only cost CPU.
          '--controllers=deployment-controller,replicaset-controller,job-controller,serviceaccount-controller,garbage-collector-controller,namespace-controller,ttl-after-finished-controller,root-ca-certificate-publisher-controller',
          '--concurrent-gc-syncs=2',
        ],
        logFile: d('kube-controller-manager.log'),
        // The service-account controller creates `default` in every namespace: proof it runs.
        ready: async () =>
          (await kubeRequest(server, tls, 'GET', '/api/v1/namespaces/default/serviceaccounts/default'))
            .status === 200,
        timeoutMs: 60_000,
      }),
    );
    mark('controller-manager');
  }
  const serviceAccountKubeconfig: ClusterRig['serviceAccountKubeconfig'] = async (namespace, name, path) => {
    const res = await api('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    });
    const token: string = res.json.status.token;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(
      path,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\n    certificate-authority-data: ${b64(tls.ca)}\n` +
        `users:\n- name: ${name}\n  user:\n    token: ${token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: ${name}\n    namespace: ${namespace}\ncurrent-context: c\n`,
    );
  };
  return { rig: { server, tls, api, writeKubeconfig, serviceAccountKubeconfig } };
}

/** An ECDSA P-256 key pair the API server signs service-account tokens with. */
async function serviceAccountKeys(dir: string): Promise<void> {
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'sa.key')]);
  await run('openssl', ['ec', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
}

/**
 * etcd's data dir right after kube-apiserver bootstrapped (RBAC roles, namespaces) and, with
 * `kserve`, KServe's CRDs, ConfigMap and runtimes were installed; cached per inputs.
 */
async function ensureTemplate(kserve: boolean): Promise<string> {
  const hash = createHash('sha256').update(TEMPLATE_FORMAT);
  for (const b of BINARIES) hash.update(await readFile(toolPath(`.${b}.version`), 'utf8').catch(() => b));
  hash.update((await run('etcd', ['--version'])).stdout);
  if (kserve) for (const input of await KSERVE_TEMPLATE_INPUTS()) hash.update(input);
  const root = join(TOOLS_DIR, 'cluster-template');
  const template = join(root, `${kserve ? 'kserve' : 'plain'}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(template)) return template;
  const work = await tempDir('cluster-template');
  const services: Service[] = [];
  try {
    const { rig } = await launch(work.path, services, () => {}, false);
    if (kserve) await installKserveResources(rig.api);
    for (const s of services.reverse()) await s.stop(); // etcd stopped cleanly before the copy
    await mkdir(root, { recursive: true });
    const staging = join(root, `.staging-${process.pid}-${Date.now()}`);
    await cp(join(work.path, 'etcd'), staging, { recursive: true });
    // Two test files may build it at once: the first rename wins, the other copy is dropped.
    await rename(staging, template).catch(async () => rm(staging, { recursive: true, force: true }));
    await work.remove();
    return template;
  } catch (e) {
    for (const s of services.reverse()) await s.stop();
    throw new Error(`building the cluster template failed (logs in ${work.path}): ${(e as Error).message}`);
  }
}

/** Bump when what goes into the template changes. */
const TEMPLATE_FORMAT = 'cluster-template-1';
