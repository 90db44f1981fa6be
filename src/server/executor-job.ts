// `--executor job`: each promotion runs as a Kubernetes Job (job-manifest.ts) in the user's
// cluster, so many models promote in parallel on cluster capacity. kiln serve still serializes per
// model: it waits for the Job's outcome before the model's next promotion may start. The result is
// read back from the MLflow version tags `kiln promote` writes (kiln.image, kiln.digest, ...), the
// same durable record the MLflow UI shows, so no pod logs need to be parsed.
import type { BatchV1Api } from '@kubernetes/client-node';
import { describeCause, KilnError } from '../errors.ts';
import { loadKubeConfig } from '../kserve/kubeconfig.ts';
import { type Logger, silentLogger } from '../log.ts';
import { getModelVersion, type MlflowClient } from '../mlflow/index.ts';
import type { Digest } from '../oci/digest.ts';
import { TAGS } from '../pipeline/promote.ts';
import type { PromoteResult, Promoter } from '../pipeline/promote-types.ts';
import { sleep } from '../sleep.ts';
import { type JobManifest, type JobSettings, renderJob } from './job-manifest.ts';
import { jobState } from './job-state.ts';

export interface JobExecutorOptions {
  job: JobSettings;
  mlflow: MlflowClient;
  env: NodeJS.ProcessEnv;
  context?: string | undefined;
  /** How often the Job's status is read (default 5 s). */
  pollMs?: number;
  log?: Logger;
}

export function jobPromoter(opts: JobExecutorOptions): Promoter {
  const log = opts.log ?? silentLogger;
  let api: Promise<{ batch: BatchV1Api; server: string }> | undefined;
  const connect = () => {
    api ??= (async () => {
      const { BatchV1Api } = await import('../kserve/k8s-api.ts');
      const kc = await loadKubeConfig({ env: opts.env, context: opts.context });
      return { batch: kc.makeApiClient(BatchV1Api), server: kc.getCurrentCluster()?.server ?? '(no server)' };
    })();
    return api;
  };

  return async (req) => {
    const version = req.version;
    if (version === undefined) {
      throw new KilnError('JOB_VERSION_REQUIRED', `a Job promotes one exact version of ${req.name}`);
    }
    const started = Date.now();
    const { batch, server } = await connect();
    const manifest = renderJob(req.name, version, opts.job);
    const where = `Job ${opts.job.namespace}/${manifest.metadata.name} on ${server}`;
    await ensureJob(batch, manifest, where, log);
    for (;;) {
      const job = await batch
        .readNamespacedJobStatus({ name: manifest.metadata.name, namespace: opts.job.namespace })
        .catch((e: unknown) => {
          throw jobApiError(e, `read ${where}`);
        });
      const state = jobState(job);
      if (state.phase === 'succeeded') break;
      if (state.phase === 'failed') {
        throw new KilnError('JOB_FAILED', `${where} failed: ${state.message}`, {
          hint: `read its logs: kubectl -n ${opts.job.namespace} logs job/${manifest.metadata.name}`,
          details: { job: manifest.metadata.name, namespace: opts.job.namespace },
        });
      }
      await sleep(opts.pollMs ?? 5000, req.signal);
    }
    return resultFromTags(opts.mlflow, req.name, version, started);
  };
}

/** Create the Job, or adopt the one a previous kiln serve created; a failed one is replaced. */
async function ensureJob(batch: BatchV1Api, manifest: JobManifest, where: string, log: Logger) {
  const { name, namespace } = manifest.metadata;
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      await batch.createNamespacedJob({ namespace, body: manifest });
      log.info(`created ${where}`, { job: name, namespace });
      return;
    } catch (e) {
      if (apiCode(e) !== 409) throw jobApiError(e, `create ${where}`);
    }
    const existing = await batch.readNamespacedJobStatus({ name, namespace }).catch((e: unknown) => {
      if (apiCode(e) === 404) return undefined; // deleted meanwhile: create again
      throw jobApiError(e, `read ${where}`);
    });
    if (existing && jobState(existing).phase !== 'failed') {
      log.info(`adopting existing ${where}`, { job: name, namespace });
      return;
    }
    if (existing) {
      log.info(`replacing failed ${where}`, { job: name, namespace });
      await batch
        .deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })
        .catch((e: unknown) => {
          if (apiCode(e) !== 404) throw jobApiError(e, `delete ${where}`);
        });
    }
    await sleep(1000, undefined);
  }
  throw new KilnError('JOB_CREATE_FAILED', `cannot create ${where}: the old Job is still being deleted`);
}

async function resultFromTags(
  mlflow: MlflowClient,
  name: string,
  version: string,
  started: number,
): Promise<PromoteResult> {
  const mv = await getModelVersion(mlflow, name, version);
  const digest = mv.tags[TAGS.digest];
  const reference = mv.tags[TAGS.image];
  if (!digest || !reference) {
    throw new KilnError(
      'JOB_RESULT_MISSING',
      `the promote Job for ${name}/${version} succeeded but the version has no ${TAGS.digest}/${TAGS.image} tags`,
      { hint: 'check the Job image runs `kiln promote` against this MLflow server' },
    );
  }
  return {
    name,
    version,
    digest: digest as Digest,
    reference,
    signed: mv.tags[TAGS.signed] === 'true',
    deployedTo: mv.tags[TAGS.deployedTo] || undefined,
    reused: false, // unknown from here: the Job's own log says
    bytesPushed: 0,
    durationMs: Date.now() - started,
  };
}

function apiCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function jobApiError(e: unknown, what: string): KilnError {
  const code = apiCode(e);
  const body = (e as { body?: unknown } | undefined)?.body;
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  if (code === undefined) {
    return new KilnError('KUBE_UNREACHABLE', `cannot ${what}: ${describeCause(e)}`, {
      hint: 'check the API server is reachable with the kubeconfig kiln serve uses',
      cause: e,
    });
  }
  // A 404 that is not a Status object: the server has no batch/v1 at all (not a cluster).
  if (code === 404 && !text.includes('"kind":"Status"')) {
    return new KilnError(
      'KUBE_JOB_API_MISSING',
      `cannot ${what}: the API server does not serve batch/v1 Jobs`,
      {
        hint: 'point kiln serve at a full Kubernetes cluster, or use server.executor: inline',
        details: { status: code, body: text.slice(0, 200) },
      },
    );
  }
  return new KilnError('JOB_API_FAILED', `cannot ${what}: HTTP ${code} ${text.slice(0, 300)}`, {
    hint: code === 401 || code === 403 ? 'the service account needs create/get/delete on jobs' : undefined,
    details: { status: code },
  });
}
