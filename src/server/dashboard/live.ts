// What MLflow and the cluster say about each watched model, read in the background and cached:
// the page polls every 2 s and a script may poll too, but MLflow and the API server see one pass
// over the models per `ttlMs` at most, and only while someone asks (stale-while-revalidate, one
// pass in flight). The interval grows to 3x the last pass's duration (at most 15 s), so a slow
// MLflow is not re-read back to back; the first pass (cold clients) does not count. An action re-reads its model at once: whoever clicked sees the result.
import type { WatchedModel } from '../../config/schema.ts';
import { describeCause, isKilnError } from '../../errors.ts';
import type { Kube } from '../../kserve/client.ts';
import { parseIsvcRef } from '../../kserve/kubeconfig.ts';
import { getStatus, type StatusReport, summarize } from '../../kserve/status.ts';
import type { InferenceService, IsvcRef } from '../../kserve/types.ts';
import type { MlflowClient } from '../../mlflow/client.ts';
import { getModelVersion, getModelVersionByAlias } from '../../mlflow/registry.ts';
import { allModelAliases } from '../../mlflow/search.ts';
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
  /** Every InferenceService of a namespace in one request; without it each model is a GET. */
  list?: (namespace: string) => Promise<InferenceService[]>;
}

/** Tags of a version kiln has not yet recorded an image for are re-read this often. */
const VERSION_TTL_MS = 30_000;

const PARALLEL = 4;

export class LiveCache {
  readonly #o: LiveOptions;
  readonly #data = new Map<string, LiveModel>();
  #refreshing: Promise<void> | undefined;
  #lastRefresh = 0;
  #lastPassMs = 0;
  #kube: Promise<Kube> | undefined;
  readonly #versions = new Map<string, { at: number; value: ModelVersionInfo }>();
  #inFlight = 0;
  #waiting: Array<() => void> = [];

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
      if (this.#o.list) await this.#pass(this.#o.list);
      else {
        const pending = [...this.#o.models];
        const worker = async () => {
          for (let m = pending.shift(); m; m = pending.shift()) this.#data.set(m.name, await this.#read(m));
        };
        await Promise.all(Array.from({ length: PARALLEL }, worker));
      }
      if (this.#lastRefresh > 0) this.#lastPassMs = Date.now() - t0;
      this.#lastRefresh = Date.now();
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /**
   * One pass over every model in a few requests: MLflow's registered-models/search for all aliases,
   * one InferenceService LIST per namespace, and a version read only for versions not seen in the
   * last VERSION_TTL_MS (their tags say signed and scanned).
   */
  async #pass(list: (namespace: string) => Promise<InferenceService[]>): Promise<void> {
    let aliases: Map<string, Record<string, string>> | undefined;
    let mlflowError: string | undefined;
    try {
      aliases = await allModelAliases(this.#o.mlflow);
    } catch (e) {
      mlflowError = message(e);
    }
    const namespaces = new Map<string, Promise<Map<string, InferenceService>>>();
    const listed = (ns: string) => {
      let p = namespaces.get(ns);
      if (!p) {
        p = list(ns).then((items) => new Map(items.map((i) => [i.metadata.name, i])));
        p.catch(() => {});
        namespaces.set(ns, p);
      }
      return p;
    };
    const reads = this.#o.models.map(async (m): Promise<LiveModel> => {
      const out = empty(m);
      const version = aliases?.get(m.name)?.[m.alias];
      if (mlflowError) out.mlflowError = mlflowError;
      else if (version === undefined) {
        out.aliasMissing = true;
        out.mlflowError = aliases?.has(m.name)
          ? `alias ${m.alias} of ${m.name} is not set in MLflow`
          : `registered model ${m.name} does not exist in MLflow`;
      }
      const deploy = m.deploy;
      if (deploy && !deploy.gitops) {
        try {
          out.isvc = parseIsvcRef(deploy.inferenceService, []);
          const live = (await listed(out.isvc.namespace)).get(out.isvc.name);
          if (!live) throw new Error(`InferenceService ${deploy.inferenceService} does not exist`);
          out.status = summarize(out.isvc, live);
        } catch (e) {
          out.clusterError = message(e);
        }
      }
      const wanted = new Set<string>();
      if (version !== undefined) wanted.add(version);
      if (out.status?.version) wanted.add(out.status.version);
      for (const h of out.status?.history ?? []) if (h.version) wanted.add(h.version);
      for (const v of wanted) {
        const info = await this.#version(m.name, v);
        if (info) out.versions.set(v, info);
      }
      if (version !== undefined) {
        out.aliasVersion = out.versions.get(version);
        if (!out.aliasVersion) out.mlflowError = `cannot read ${m.name} version ${version} from MLflow`;
      }
      return out;
    });
    for (const m of await Promise.all(reads)) this.#data.set(m.name, m);
  }

  /** A version's info: re-read every VERSION_TTL_MS until kiln recorded its image, then kept. */
  async #version(name: string, version: string): Promise<ModelVersionInfo | undefined> {
    const key = `${name}/${version}`;
    const hit = this.#versions.get(key);
    // kiln.digest is written after the scan and the push: from then on the tags kiln shows are final.
    if (hit && (hit.value.tags['kiln.digest'] || Date.now() - hit.at < VERSION_TTL_MS)) return hit.value;
    const value = await this.#limit(() => getModelVersion(this.#o.mlflow, name, version)).catch(
      () => hit?.value,
    );
    if (value) this.#versions.set(key, { at: Date.now(), value });
    return value;
  }

  /** At most PARALLEL version reads at once: MLflow is one Python process in most setups. */
  async #limit<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#inFlight >= PARALLEL) await new Promise<void>((r) => this.#waiting.push(r));
    this.#inFlight++;
    try {
      return await fn();
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
  }

  async #read(m: WatchedModel): Promise<LiveModel> {
    const out = empty(m);
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

function empty(m: WatchedModel): LiveModel {
  return {
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
}

function message(e: unknown): string {
  return isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
}
