// What MLflow and the cluster say about each watched model, read in the background and cached:
// the page polls every 2 s and a script may poll too, but MLflow and the API server see one pass
// over the models per `ttlMs` at most, and only while someone asks (stale-while-revalidate, one
// pass in flight). The interval grows to 3x the last pass's duration (at most 15 s), so a slow
// MLflow is not re-read back to back; the first pass (cold clients) does not count. An action re-reads its model at once: whoever clicked sees the result.
import type { WatchedModel } from '../../config/schema.ts';
import { describeCause, isKilnError } from '../../errors.ts';
import type { Kube } from '../../kserve/client.ts';
import { parseIsvcRef } from '../../kserve/kubeconfig.ts';
import { getStatus, type StatusReport } from '../../kserve/status.ts';
import type { IsvcRef } from '../../kserve/types.ts';
import type { MlflowClient } from '../../mlflow/client.ts';
import { getModelVersion, getModelVersionByAlias } from '../../mlflow/registry.ts';
import type { ModelVersionInfo } from '../../mlflow/types.ts';

export interface LiveModel {
  name: string;
  alias: string;
  /** The version the alias points at, with its tags. */
  aliasVersion: ModelVersionInfo | undefined;
  mlflowError: string | undefined;
  /** MLflow answered, but the model or alias does not exist (yet): not an outage. */
  aliasMissing: boolean;
  isvc: IsvcRef | undefined;
  status: StatusReport | undefined;
  clusterError: string | undefined;
  /** Tags of the versions serving and in canary (signed, scanned), when they differ from the alias's. */
  versions: Map<string, ModelVersionInfo>;
  readAt: number;
}

export interface LiveOptions {
  models: readonly WatchedModel[];
  mlflow: MlflowClient;
  /** Opens the cluster once (the kubeconfig); a failure is shown per model and retried later. */
  kube: () => Promise<Kube>;
  ttlMs: number;
}

const PARALLEL = 4;

export class LiveCache {
  readonly #o: LiveOptions;
  readonly #data = new Map<string, LiveModel>();
  #refreshing: Promise<void> | undefined;
  #lastRefresh = 0;
  #lastPassMs = 0;
  #kube: Promise<Kube> | undefined;

  constructor(o: LiveOptions) {
    this.#o = o;
  }

  /** Every watched model; waits only for the very first read. */
  async all(): Promise<Map<string, LiveModel>> {
    if (this.#data.size === 0) await this.#refreshAll();
    else if (Date.now() - this.#lastRefresh > Math.max(this.#o.ttlMs, Math.min(3 * this.#lastPassMs, 15_000)))
      void this.#refreshAll();
    return this.#data;
  }

  async one(name: string): Promise<LiveModel | undefined> {
    const all = await this.all();
    return all.get(name);
  }

  /** Read one model now (after an action). */
  async refresh(name: string): Promise<LiveModel | undefined> {
    const m = this.#o.models.find((x) => x.name === name);
    if (!m) return undefined;
    const live = await this.#read(m);
    this.#data.set(name, live);
    return live;
  }

  cluster(): Promise<Kube> {
    this.#kube ??= this.#o.kube().catch((e: unknown) => {
      this.#kube = undefined;
      throw e;
    });
    return this.#kube;
  }

  #refreshAll(): Promise<void> {
    this.#refreshing ??= (async () => {
      const t0 = Date.now();
      const pending = [...this.#o.models];
      const worker = async () => {
        for (let m = pending.shift(); m; m = pending.shift()) this.#data.set(m.name, await this.#read(m));
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      if (this.#lastRefresh > 0) this.#lastPassMs = Date.now() - t0;
      this.#lastRefresh = Date.now();
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #read(m: WatchedModel): Promise<LiveModel> {
    const out: LiveModel = {
      name: m.name,
      alias: m.alias,
      aliasVersion: undefined,
      mlflowError: undefined,
      aliasMissing: false,
      isvc: undefined,
      status: undefined,
      clusterError: undefined,
      versions: new Map(),
      readAt: Date.now(),
    };
    const previous = this.#data.get(m.name);
    try {
      out.aliasVersion = await getModelVersionByAlias(this.#o.mlflow, m.name, m.alias);
      out.versions.set(out.aliasVersion.version, out.aliasVersion);
    } catch (e) {
      out.mlflowError = message(e);
      // An HTTP answer below 500 means MLflow is up and the alias is simply not set (reconciler.ts).
      const status = isKilnError(e) ? e.details['status'] : undefined;
      out.aliasMissing = typeof status === 'number' && status < 500;
    }
    const deploy = m.deploy;
    if (deploy && !deploy.gitops) {
      try {
        out.isvc = parseIsvcRef(deploy.inferenceService, []);
        out.status = await getStatus(await this.cluster(), out.isvc);
      } catch (e) {
        out.clusterError = message(e);
      }
    }
    // Tags of what serves: versions do not change once tagged, so earlier reads are reused.
    const wanted = new Set<string>();
    if (out.status?.version) wanted.add(out.status.version);
    for (const h of out.status?.history ?? []) if (h.version) wanted.add(h.version);
    for (const v of wanted) {
      if (out.versions.has(v)) continue;
      const known = previous?.versions.get(v);
      if (known?.tags['kiln.digest']) {
        out.versions.set(v, known);
        continue;
      }
      try {
        out.versions.set(v, await getModelVersion(this.#o.mlflow, m.name, v));
      } catch {
        // shown as unknown; the next read tries again
      }
    }
    return out;
  }
}

function message(e: unknown): string {
  return isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
}
