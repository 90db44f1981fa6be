// A real Prometheus (Debian's `prometheus` package, 2.42) for the analysis tests: scrapes targets
// listed in a file_sd file (rewritten by the test as "pods" come and go, picked up by inotify),
// scrape interval 1 s. Targets carry the pod labels a Kubernetes service discovery would expose
// (`__meta_kubernetes_pod_label_serving_knative_dev_revision`, ...), and relabel_configs copy them
// into kn_revision_name / k8s_namespace_name the way a KServe installation's PodMonitor does
// (kserve/website canary-rollout-observability.md): the model server's own metrics carry only
// model_name, so the revision comes from scrape-time relabeling.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, httpOk, type Service, startService, tempDir } from './proc.ts';

export interface ScrapeTarget {
  /** host:port */
  address: string;
  namespace: string;
  revision: string;
  /** container: queue-proxy | kserve-container */
  container: string;
}

export interface PrometheusRig {
  url: string;
  setTargets(targets: ScrapeTarget[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrometheus(): Promise<PrometheusRig> {
  const dir = await tempDir('prometheus');
  const port = await freePort();
  const sd = join(dir.path, 'targets.json');
  const setTargets = async (targets: ScrapeTarget[]) => {
    const groups = targets.map((t) => ({
      targets: [t.address],
      labels: {
        __meta_kubernetes_namespace: t.namespace,
        __meta_kubernetes_pod_label_serving_knative_dev_revision: t.revision,
        __meta_kubernetes_pod_container_name: t.container,
      },
    }));
    // Written whole and renamed would be atomic; Prometheus re-reads on change and ignores a torn read.
    await writeFile(sd, JSON.stringify(groups));
  };
  await setTargets([]);
  const config = join(dir.path, 'prometheus.yml');
  await writeFile(
    config,
    `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: kserve-pods
    file_sd_configs:
      - files: ['${sd}']
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_label_serving_knative_dev_revision]
        target_label: kn_revision_name
      - source_labels: [__meta_kubernetes_namespace]
        target_label: k8s_namespace_name
      - source_labels: [__meta_kubernetes_pod_container_name]
        target_label: container
`,
  );
  const service: Service = await startService({
    name: 'prometheus',
    cmd: 'prometheus',
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    logFile: join(dir.path, 'prometheus.log'),
    ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
    timeoutMs: 30_000,
  });
  return {
    url: `http://127.0.0.1:${port}`,
    setTargets,
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}
