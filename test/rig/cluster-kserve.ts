// KServe v0.20.0 on the test control plane (cluster.ts): its CRDs, `inferenceservice-config`,
// the scikit-learn ClusterServingRuntime and webhook configurations, all read from the KServe Go
// module's config/ folder (copied by `scripts/setup kube`), and its own controller (cmd/manager)
// with its admission webhooks. Only what a cluster needs differently is changed:
// - the default deployment mode is Standard (KServe's name for RawDeployment: plain Deployments,
//   no Knative), because there is no Knative here;
// - webhooks are called by URL on 127.0.0.1 with the rig's CA instead of through a Service;
// - runtime images get the release tag kustomize would give them (the folder says `:replace`).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KSERVE_CONFIG_DIR } from './kube.ts';
import type { KubeResponse, KubeTls } from './kube-api.ts';
import { freePort, type Service, sleep, startService, toolPath } from './proc.ts';

export const KSERVE_NAMESPACE = 'kserve';
const RELEASE = 'v0.20.0';

export interface KserveController {
  service: Service;
  /** https://127.0.0.1:PORT of its webhook server. */
  webhook: string;
  stop(): Promise<void>;
}

type Api = (
  method: string,
  path: string,
  body?: unknown,
  ok?: number[],
  contentType?: string,
) => Promise<KubeResponse>;
// biome-ignore lint/suspicious/noExplicitAny: parsed Kubernetes YAML
type Obj = any;

const conf = (...p: string[]) => join(KSERVE_CONFIG_DIR, ...p);

/** The CRDs KServe's controller watches (LLMInferenceService has its own controller: not installed). */
const CRD_FILES = [
  'serving.kserve.io_inferenceservices.yaml',
  'serving.kserve.io_servingruntimes.yaml',
  'serving.kserve.io_clusterservingruntimes.yaml',
  'serving.kserve.io_inferencegraphs.yaml',
  'serving.kserve.io_trainedmodels.yaml',
  'clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml',
  'localmodel/serving.kserve.io_localmodelcaches.yaml',
  'localmodel/serving.kserve.io_localmodelnamespacecaches.yaml',
  'localmodel/serving.kserve.io_localmodelnodegroups.yaml',
  'localmodel/serving.kserve.io_localmodelnodes.yaml',
].map((f) => conf('crd', 'full', f));

/** What the cached etcd template depends on. */
export async function KSERVE_TEMPLATE_INPUTS(): Promise<string[]> {
  return ['kserve-resources-1', await readFile(conf('.version'), 'utf8')];
}

async function docs(file: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(file, 'utf8'))
    .map((d) => d.toJSON())
    .filter(Boolean);
}

/** Namespace, CRDs (waited until Established), ConfigMap and runtimes: once, into the template. */
export async function installKserveResources(api: Api): Promise<void> {
  await api('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: KSERVE_NAMESPACE },
  });
  const names: string[] = [];
  for (const file of CRD_FILES) {
    for (const crd of await docs(file)) {
      await api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
      names.push(crd.metadata.name);
    }
  }
  const deadline = Date.now() + 120_000;
  for (const name of names) {
    for (;;) {
      const res = await api('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      if (
        (res.json.status?.conditions ?? []).some((c: Obj) => c.type === 'Established' && c.status === 'True')
      )
        break;
      if (Date.now() > deadline) throw new Error(`KServe CRD ${name} not Established within 120 s`);
      await sleep(100);
    }
  }
  const [cm] = await docs(conf('configmap', 'inferenceservice.yaml'));
  const deploy = JSON.parse(cm.data.deploy);
  deploy.defaultDeploymentMode = 'Standard';
  cm.data.deploy = JSON.stringify(deploy);
  cm.metadata.namespace = KSERVE_NAMESPACE;
  await api('POST', `/api/v1/namespaces/${KSERVE_NAMESPACE}/configmaps`, cm);
  for (const runtime of await docs(conf('runtimes', 'kserve-sklearnserver.yaml'))) {
    for (const c of runtime.spec.containers)
      c.image = c.image.replace(/^kserve-(\w+):replace$/, `kserve/$1:${RELEASE}`);
    await served(api, '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes');
    await api('POST', '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes', runtime);
  }
}

/** Established can precede the handler: wait until the list answers. */
async function served(api: Api, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await api('GET', path, undefined, [200, 404, 503])).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${path} not served within 30 s`);
    await sleep(100);
  }
}

/**
 * Start KServe's controller as the admin (as its ClusterRole would allow in a cluster), its
 * webhook server on a free port with the rig's serving certificate, then register its webhooks.
 */
export async function startKserve(
  server: string,
  tls: KubeTls,
  dir: string,
  kubeconfigPath: string,
  api: Api,
): Promise<KserveController> {
  const [webhookPort, probePort] = [await freePort(), await freePort()];
  // controller-runtime reads its serving certificate from $TMPDIR/k8s-webhook-server/serving-certs.
  const tmp = join(dir, 'kserve-tmp');
  const certs = join(tmp, 'k8s-webhook-server', 'serving-certs');
  await mkdir(certs, { recursive: true });
  await copyFile(join(dir, 'serving.crt'), join(certs, 'tls.crt'));
  await copyFile(join(dir, 'serving.key'), join(certs, 'tls.key'));
  const service = await startService({
    name: 'kserve-manager',
    cmd: toolPath('kserve-manager'),
    args: [`--webhook-port=${webhookPort}`, `--health-probe-addr=127.0.0.1:${probePort}`, '--metrics-addr=0'],
    env: { ...process.env, KUBECONFIG: kubeconfigPath, POD_NAMESPACE: KSERVE_NAMESPACE, TMPDIR: tmp },
    logFile: join(dir, 'kserve-manager.log'),
    ready: async () =>
      (await fetch(`http://127.0.0.1:${probePort}/readyz`, { signal: AbortSignal.timeout(1000) })).ok,
    timeoutMs: 60_000,
  });
  const webhook = `https://127.0.0.1:${webhookPort}`;
  try {
    await registerWebhooks(api, webhook, tls.ca);
  } catch (e) {
    await service.stop();
    throw e;
  }
  void server;
  return { service, webhook, stop: () => service.stop() };
}

/** KServe's own webhook configurations, pointed at the local webhook server by URL. */
async function registerWebhooks(api: Api, webhook: string, ca: string): Promise<void> {
  const caBundle = Buffer.from(ca).toString('base64');
  for (const cfg of await docs(conf('webhook', 'manifests.yaml'))) {
    for (const hook of cfg.webhooks) {
      const path = hook.clientConfig.service.path;
      hook.clientConfig = { url: `${webhook}${path}`, caBundle };
      hook.timeoutSeconds = 10;
    }
    const kind =
      cfg.kind === 'MutatingWebhookConfiguration'
        ? 'mutatingwebhookconfigurations'
        : 'validatingwebhookconfigurations';
    const base = `/apis/admissionregistration.k8s.io/v1/${kind}`;
    await api('DELETE', `${base}/${cfg.metadata.name}`, undefined, [200, 404]);
    await api('POST', base, cfg);
  }
}
