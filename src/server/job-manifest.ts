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
}

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
            },
          ],
        },
      },
    },
  };
}

export type JobManifest = ReturnType<typeof renderJob>;
