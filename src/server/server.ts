// kiln serve, wired: state store -> queue (resumes interrupted work) -> HTTP (webhooks, health,
// metrics) -> reconciler. Stopping runs the same steps backwards: stop accepting, stop polling,
// let running promotions finish (bounded), close the store.
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { MlflowClient, type MlflowOptions } from '../mlflow/index.ts';
import type { Promoter } from '../pipeline/promote-types.ts';
import { AnalysisLoop } from './analysis-loop.ts';
import { AnalysisStore } from './analysis-store.ts';
import { startCheckpointer } from './checkpointer.ts';
import { storeAnalysis } from './dashboard/analysis.ts';
import { createDashboard, type TokenSet } from './dashboard/index.ts';
import { listen } from './http.ts';
import { type KilnMetrics, kilnMetrics } from './kiln-metrics.ts';
import { lockStateDir } from './lock.ts';
import { PromotionQueue } from './queue.ts';
import { Reconciler } from './reconciler.ts';
import { routes } from './routes.ts';
import { StateStore } from './state.ts';
import { MAX_BODY_BYTES, tooLarge, WEBHOOK_PATH, webhookHandler } from './webhook-handler.ts';

export interface ServerOptions {
  config: Config;
  promoter: Promoter;
  /** The secret given to MLflow's webhook; undefined disables the webhook route. */
  webhookSecret: string | undefined;
  mlflow: MlflowOptions;
  /** HOST:PORT, overriding config.server.listen. */
  listen?: string | undefined;
  /** Promotions at once across models (default 2). */
  concurrency?: number | undefined;
  /** How long shutdown waits for running promotions (default 30 s). */
  drainMs?: number | undefined;
  /** Named bearer tokens allowed to act from the dashboard; none = read-only. */
  dashboardTokens?: TokenSet | undefined;
  /** Environment for cluster access of the dashboard and the canary analysis (KUBECONFIG); default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  log?: Logger;
}

export interface RunningServer {
  url: string;
  store: StateStore;
  queue: PromotionQueue;
  reconciler: Reconciler;
  metrics: KilnMetrics;
  /** Canary analyses (undefined when no rollout policy is configured). */
  analysis: { store: AnalysisStore; loop: AnalysisLoop } | undefined;
  stop(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? silentLogger;
  const { server, models } = opts.config;
  const address = parseListen(opts.listen ?? server.listen);
  mkdirSync(server.stateDir, { recursive: true });
  const unlock = lockStateDir(server.stateDir);
  let store: StateStore;
  try {
    store = StateStore.open(server.stateDir, { walAutocheckpoint: 20_000 });
  } catch (e) {
    unlock();
    throw e;
  }
  const checkpointer = startCheckpointer(store.path, 250, (error) =>
    log.warn('WAL checkpoint failed (retried)', { error }),
  );
  const queueRef: { q?: PromotionQueue } = {};
  const metrics = kilnMetrics({
    queueDepth: () => (store.isOpen ? store.counts().queued : 0),
    running: () => queueRef.q?.runningCount ?? 0,
  });
  const analysis = startAnalysis(opts, store.path, metrics, log);
  let dashboard: ReturnType<typeof createDashboard>;
  try {
    dashboard = createDashboard({
      config: opts.config,
      statePath: store.path,
      // Its own client: a page waits on it, so a down MLflow is reported fast, not after minutes.
      mlflow: new MlflowClient({ ...opts.mlflow, retry: { attempts: 2 }, timeoutMs: 5000, log }),
      tokens: opts.dashboardTokens ?? { size: 0, who: () => undefined },
      env: opts.env ?? {},
      ...(analysis ? { analysis: storeAnalysis(analysis.store) } : {}),
      log,
    });
  } catch (e) {
    await analysis?.loop.stop();
    analysis?.store.close();
    await checkpointer.stop();
    store.close();
    unlock();
    throw e;
  }
  const queue = new PromotionQueue({
    store,
    promoter: dashboard.observe(opts.promoter),
    concurrency: opts.concurrency ?? 2,
    metrics,
    log,
    onSucceeded: analysis ? (id, r) => analysis.loop.promoted(id, r) : undefined,
  });
  queueRef.q = queue;
  const reconciler = new Reconciler({
    models,
    client: new MlflowClient({ ...opts.mlflow, log }),
    queue,
    intervalMs: server.reconcileInterval * 1000,
    log,
    // A replayed delivery older than this is refused as stale before its id is looked up.
    afterRun: () => store.pruneDeliveries(Date.now() - (2 * server.maxSkew + 60) * 1000),
  });
  const webhook =
    opts.webhookSecret === undefined
      ? undefined
      : webhookHandler({
          secret: opts.webhookSecret,
          maxSkewSeconds: server.maxSkew,
          models,
          queue,
          metrics,
          log,
        });

  queue.start();
  let http: Awaited<ReturnType<typeof listen>>;
  try {
    http = await listen({
      host: address.host,
      port: address.port,
      maxBodyBytes: MAX_BODY_BYTES,
      tooLarge: () => tooLarge(metrics),
      log,
      direct: webhook ? { path: WEBHOOK_PATH, handle: webhook.direct } : undefined,
      handler: routes({
        webhook: webhook?.fetch,
        metrics: metrics.registry,
        dashboard: dashboard.handler(queue),
        readiness: {
          storeOpen: () => store.isOpen,
          mlflowReachable: () => reconciler.last?.reachable,
        },
      }),
    });
  } catch (e) {
    await analysis?.loop.stop();
    analysis?.store.close();
    await queue.stop(0);
    await checkpointer.stop();
    dashboard.close();
    store.close();
    unlock();
    throw new KilnError('LISTEN_FAILED', `cannot listen on ${address.host}:${address.port}: ${String(e)}`, {
      kind: 'usage',
      hint: 'pick a free port with --listen HOST:PORT (or server.listen in kiln.yaml)',
      cause: e,
    });
  }
  reconciler.start();
  analysis?.loop.start();
  log.info(`kiln serve listening on ${http.url}`, {
    url: http.url,
    webhook: webhook ? `${http.url}${WEBHOOK_PATH}` : 'disabled',
    dashboard: `${http.url}/`,
    dashboardActions: opts.dashboardTokens?.size ? `${opts.dashboardTokens.size} token(s)` : 'read-only',
    models: models.map((m) => `${m.name}@${m.alias}`),
    stateDir: server.stateDir,
    reconcileInterval: server.reconcileInterval,
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('kiln serve stopping: no new deliveries; waiting for running promotions');
      await http.close(2000);
      reconciler.stop();
      await analysis?.loop.stop();
      analysis?.store.close();
      const { unfinished } = await queue.stop(opts.drainMs ?? 30_000);
      if (unfinished > 0) log.warn(`${unfinished} promotion(s) still running: resumed at the next start`);
      await checkpointer.stop();
      dashboard.close();
      store.close();
      unlock();
      log.info('kiln serve stopped');
    })();
    return stopping;
  };
  return { url: http.url, store, queue, reconciler, metrics, analysis, stop };
}

/** The analysis loop, when kiln.yaml has a rollout policy (top level or for any model). */
function startAnalysis(opts: ServerOptions, path: string, metrics: KilnMetrics, log: Logger) {
  const { config } = opts;
  if (config.rollout === undefined && !config.models.some((m) => m.rollout !== undefined)) return undefined;
  const store = new AnalysisStore(path);
  const m = metrics.registry;
  const loop = new AnalysisLoop({
    config,
    store,
    mlflow: opts.mlflow,
    env: opts.env ?? process.env,
    log,
    metrics: {
      decisions: m.counter(
        'kiln_analysis_decisions_total',
        'Canary analysis decisions, by action (advance, hold, promote, abort, pause).',
      ),
      checks: m.counter('kiln_analysis_checks_total', 'Canary analysis check results, by check and verdict.'),
      tickSeconds: m.histogram(
        'kiln_analysis_tick_seconds',
        'Wall time of one analysis turn (queries + judgement + apply).',
        [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ),
    },
  });
  m.gauge('kiln_analysis_running', 'Canary analyses running or paused now.', () =>
    store.hasTables ? store.live().length : 0,
  );
  return { store, loop };
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new KilnError('LISTEN_INVALID', `listen address "${text}" is not HOST:PORT`, {
      kind: 'usage',
      hint: 'e.g. --listen 127.0.0.1:8080, --listen :8080 or --listen [::1]:8080',
    });
  }
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string));
  return { host, port };
}
