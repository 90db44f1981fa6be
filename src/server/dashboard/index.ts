// The dashboard, wired: its records (SQLite, beside the queue's tables), the live cache of MLflow
// and the cluster, the promoter wrapper that records stages and logs, and the HTTP handler.
import type { Config } from '../../config/schema.ts';
import { kubeFromConfig } from '../../kserve/client.ts';
import { loadKubeConfig } from '../../kserve/kubeconfig.ts';
import { listInferenceServices } from '../../kserve/list.ts';
import type { Logger } from '../../log.ts';
import type { MlflowClient } from '../../mlflow/client.ts';
import type { Promoter } from '../../pipeline/promote-types.ts';
import type { PromotionQueue } from '../queue.ts';
import { type AnalysisSource, noAnalysis } from './analysis.ts';
import { dashboardHandler } from './api.ts';
import { loadAssets } from './assets.ts';
import { LiveCache } from './live.ts';
import { observedPromoter } from './observe.ts';
import { DashboardRecords } from './records.ts';
import type { TokenSet } from './tokens.ts';

export { parseTokens, type TokenSet, tokensFromEnv } from './tokens.ts';

export interface DashboardOptions {
  config: Config;
  statePath: string;
  mlflow: MlflowClient;
  tokens: TokenSet;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Milliseconds a read of MLflow and the cluster is reused (default 2000). */
  ttlMs?: number;
  analysis?: AnalysisSource;
}

export interface Dashboard {
  /** Wraps the server's promoter so stages, logs and errors are recorded. */
  observe(promoter: Promoter): Promoter;
  /** Needs the queue (retry), which needs the wrapped promoter: bound once both exist. */
  handler(queue: Pick<PromotionQueue, 'offer'>): (req: Request) => Promise<Response | undefined>;
  close(): void;
}

export function createDashboard(o: DashboardOptions): Dashboard {
  const records = new DashboardRecords(o.statePath);
  const assets = loadAssets();
  // One kubeconfig for the dashboard's reads (LIST per namespace) and its actions (kserve/ calls).
  let kc: ReturnType<typeof loadKubeConfig> | undefined;
  const kubeConfig = () => {
    kc ??= loadKubeConfig({ env: o.env, context: o.config.kube.context });
    kc.catch(() => {
      kc = undefined;
    });
    return kc;
  };
  const live = new LiveCache({
    models: o.config.models,
    mlflow: o.mlflow,
    kube: async () => kubeFromConfig(await kubeConfig(), 10_000),
    list: async (namespace) => listInferenceServices(await kubeConfig(), namespace),
    ttlMs: o.ttlMs ?? 2000,
  });
  return {
    observe: (promoter) => observedPromoter(promoter, records, o.log),
    handler: (queue) =>
      dashboardHandler({
        models: o.config.models,
        records,
        live,
        mlflow: o.mlflow,
        tokens: o.tokens,
        analysis: o.analysis ?? noAnalysis,
        assets,
        queue,
        log: o.log,
      }),
    close: () => records.close(),
  };
}
