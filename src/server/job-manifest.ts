// The Kubernetes Job `--executor job` hands a promotion to: one pod running
// `kiln promote models:/NAME/VERSION --json` in server.job.namespace with server.job.image.
// The image must have `kiln` on PATH and its kiln.yaml (e.g. KILN_CONFIG + a mounted ConfigMap),
// with registry, signing and cluster credentials coming from the pod (server.job.serviceAccount).
// The name is derived from (model, version) only, so a restarted kiln serve finds the Job it had
// already created instead of starting a second one.
import { createHash } from 'node:crypto';

export interface JobSettings {
  namespace: string;
  image: string;
  serviceAccount?: string | undefined;
  /** Secrets whose keys become the pod's environment (MLFLOW_TRACKING_TOKEN, COSIGN_PASSWORD...). */
  envFromSecrets?: string[] | undefined;
  /** ConfigMap holding `kiln.yaml`, mounted read-only; KILN_CONFIG points at it. */
  configMap?: string | undefined;
  /** kubernetes.io/dockerconfigjson Secret with registry credentials; DOCKER_CONFIG points at it. */
  registrySecret?: string | undefined;
  /** Secret holding `cosign.key`; KILN_SIGN_KEY points at it (its password via envFromSecrets). */
  signingKeySecret?: string | undefined;
}

/** Where the Job's pod finds what the settings above reference (all read-only mounts). */
export const JOB_PATHS = {
  config: '/etc/kiln/config',
  docker: '/etc/kiln/docker',
  signing: '/etc/kiln/signing',
} as const;

export const JOB_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  model: 'kiln.dev/model-hash',
  version: 'kiln.dev/model-version',
} as const;

/** How many times the Job's pod is retried before the promotion counts as failed. */
export const JOB_BACKOFF_LIMIT = 2;
/** Finished Jobs are garbage-collected after a day (their logs are the promotion's record). */
export const JOB_TTL_SECONDS = 86_400;

/** `kiln-<slug>-v<version>-<hash>`: a DNS-1123 label (<= 63 chars) unique per (model, version). */
export function jobName(model: string, version: string): string {
  const hash = createHash('sha256').update(`${model}\n${version}`).digest('hex').slice(0, 8);
  const tail = `-v${version}-${hash}`;
  const slug =
    model
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63 - 'kiln-'.length - tail.length)
      .replace(/-+$/g, '') || 'model';
  return `kiln-${slug}${tail}`;
}

export function renderJob(model: string, version: string, job: JobSettings) {
  const labels = {
    [JOB_LABELS.managedBy]: 'kiln',
    [JOB_LABELS.component]: 'promote',
    [JOB_LABELS.model]: createHash('sha256').update(model).digest('hex').slice(0, 16),
    [JOB_LABELS.version]: version,
  };
  const uri = `models:/${model}/${version}`;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(model, version),
      namespace: job.namespace,
      labels,
      // Label values cannot hold every MLflow model name; annotations can.
      annotations: { 'kiln.dev/model': model, 'kiln.dev/model-uri': uri },
    },
    spec: {
      backoffLimit: JOB_BACKOFF_LIMIT,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(job.serviceAccount ? { serviceAccountName: job.serviceAccount } : {}),
          containers: [
            {
              name: 'promote',
              image: job.image,
              command: ['kiln'],
              args: ['promote', uri, '--json'],
              ...podSecrets(job).container,
            },
          ],
          ...podSecrets(job).pod,
        },
      },
    },
  };
}

export type JobManifest = ReturnType<typeof renderJob>;

/**
 * Secrets and config by reference only: the Job names Secrets and a ConfigMap, the kubelet
 * mounts them, and no secret value ever passes through kiln serve or lands in the Job object.
 */
function podSecrets(job: JobSettings) {
  const env: Array<{ name: string; value: string }> = [];
  const mounts: Array<{ name: string; mountPath: string; readOnly: true }> = [];
  type Source =
    | { configMap: { name: string } }
    | { secret: { secretName: string; items?: Array<{ key: string; path: string }> } };
  const volumes: Array<{ name: string } & Source> = [];
  const mount = (name: string, mountPath: string, source: Source) => {
    mounts.push({ name, mountPath, readOnly: true });
    volumes.push({ name, ...source });
  };
  if (job.configMap) {
    mount('kiln-config', JOB_PATHS.config, { configMap: { name: job.configMap } });
    env.push({ name: 'KILN_CONFIG', value: `${JOB_PATHS.config}/kiln.yaml` });
  }
  if (job.registrySecret) {
    const items = [{ key: '.dockerconfigjson', path: 'config.json' }];
    mount('registry-auth', JOB_PATHS.docker, { secret: { secretName: job.registrySecret, items } });
    env.push({ name: 'DOCKER_CONFIG', value: JOB_PATHS.docker });
  }
  if (job.signingKeySecret) {
    mount('signing-key', JOB_PATHS.signing, { secret: { secretName: job.signingKeySecret } });
    env.push({ name: 'KILN_SIGN_KEY', value: `${JOB_PATHS.signing}/cosign.key` });
  }
  const envFrom = (job.envFromSecrets ?? []).map((name) => ({ secretRef: { name } }));
  return {
    container: {
      ...(env.length ? { env } : {}),
      ...(envFrom.length ? { envFrom } : {}),
      ...(mounts.length ? { volumeMounts: mounts } : {}),
    },
    pod: volumes.length ? { volumes } : {},
  };
}
