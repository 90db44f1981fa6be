// kiln serve's analysis loop: after a promotion deploys a canary to a cluster, analyse it (the same
// controller as `kiln rollout watch`), with every state change and decision recorded durably in
// analysis-store.ts. Restarted servers resume live analyses from the store. A newer version of the
// same InferenceService supersedes the running analysis and starts its own.
import {
  type AnalysisState,
  analysisConfigured,
  beginAnalysis,
  type ControllerDeps,
  controllerDeps,
  policyFor,
  tick,
} from '../analysis/index.ts';
import { publish } from '../analysis/publish.ts';
import type { Config } from '../config/schema.ts';
import { describeCause, isKilnError } from '../errors.ts';
import type { Kube } from '../kserve/client.ts';
import { openTarget } from '../kserve/target.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { MlflowOptions } from '../mlflow/index.ts';
import type { PromoteResult } from '../pipeline/promote-types.ts';
import type { AnalysisStore } from './analysis-store.ts';
import type { Counter, Histogram } from './metrics.ts';

export interface AnalysisLoopOptions {
  config: Config;
  store: AnalysisStore;
  mlflow: MlflowOptions;
  env: NodeJS.ProcessEnv;
  metrics: { decisions: Counter; checks: Counter; tickSeconds: Histogram };
  log?: Logger;
  /** How often due analyses are looked for (default 1 s; each run has its own interval). */
  pollMs?: number;
  now?: () => number;
  /** Tests inject the cluster; by default each InferenceService's kubeconfig target is opened. */
  openKube?: (isvc: string) => Promise<Kube>;
}

export class AnalysisLoop {
  readonly #o: AnalysisLoopOptions;
  readonly #log: Logger;
  readonly #busy = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #inflight = new Set<Promise<void>>();

  constructor(o: AnalysisLoopOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  start(): void {
    const live = this.#o.store.live();
    if (live.length > 0)
      this.#log.info(`resuming ${live.length} canary analysis(es)`, { runs: live.map((r) => r.id) });
    this.#timer = setInterval(() => this.#poll(), this.#o.pollMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all(this.#inflight);
  }

  /** The queue calls this after a promotion succeeded. */
  promoted(promotionId: number, r: PromoteResult): void {
    const dep = this.#o.config.models.find((m) => m.name === r.name)?.deploy;
    if (!analysisConfigured(this.#o.config, r.name) || !dep || dep.gitops || dep.canary === undefined) return;
    if (r.deployedTo !== dep.inferenceService) return;
    this.#track(
      (async () => {
        const kube = await this.#kube(dep.inferenceService);
        const [namespace, name] = dep.inferenceService.split('/') as [string, string];
        const deps = this.#deps(kube, r.name, r.version);
        const state = await beginAnalysis(deps, { namespace, name });
        const id = this.#o.store.start(state, promotionId, this.#now());
        this.#log.info(
          `canary analysis ${id} started for ${r.name}/${r.version} on ${dep.inferenceService}`,
          {
            analysis: id,
            model: r.name,
            version: r.version,
          },
        );
        await publish(kube, state, deps.policy, undefined).catch(() => undefined);
      })().catch((e: unknown) =>
        this.#log.error(`cannot start the canary analysis of ${r.name}/${r.version}`, {
          error: describeCause(e),
        }),
      ),
    );
  }

  #poll(): void {
    if (this.#stopped) return;
    const now = this.#now();
    for (const run of this.#o.store.live()) {
      if (this.#busy.has(run.id) || run.state.nextCheckAt > now || run.status === 'paused') continue;
      this.#busy.add(run.id);
      this.#track(this.#step(run.id, run.state).finally(() => this.#busy.delete(run.id)));
    }
  }

  async #step(id: number, state: AnalysisState): Promise<void> {
    const t0 = process.cpuUsage();
    const w0 = performance.now();
    try {
      const kube = await this.#kube(`${state.namespace}/${state.name}`);
      const deps = this.#deps(kube, state.model, state.version);
      const r = await tick(state, deps);
      if (r.kind === 'superseded') {
        this.#o.store.end(
          id,
          'superseded',
          `the InferenceService now runs ${r.image ?? 'nothing'}`,
          this.#now(),
        );
        return;
      }
      if (r.kind !== 'decided') return;
      this.#o.store.record(id, r.state, r.decision, this.#now());
      this.#o.metrics.decisions.inc({ action: r.decision.action });
      for (const c of r.decision.checks) this.#o.metrics.checks.inc({ check: c.check, verdict: c.verdict });
      this.#log.info(
        `analysis ${id} ${state.namespace}/${state.name}: ${r.decision.verdict} -> ${r.decision.action}`,
        {
          analysis: id,
          reason: r.decision.reason,
        },
      );
      await publish(kube, r.state, deps.policy, r.decision).catch(() => undefined);
    } catch (e) {
      // Not evidence about the canary (cluster or MLflow unreachable): retried next poll.
      this.#log.warn(`analysis ${id} could not run a check; retrying`, {
        error: isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e),
      });
    } finally {
      const cpu = process.cpuUsage(t0);
      this.#o.metrics.tickSeconds.observe((performance.now() - w0) / 1000);
      this.#cpuMicros += cpu.user + cpu.system;
    }
  }

  /** CPU spent in analysis turns since start (µs): what bench/analysis.ts reports per check. */
  #cpuMicros = 0;
  get cpuMicros(): number {
    return this.#cpuMicros;
  }

  #deps(kube: Kube, model: string | undefined, version: string | undefined): ControllerDeps {
    const policy = policyFor(this.#o.config, model);
    return controllerDeps({
      config: this.#o.config,
      kube,
      model,
      version,
      policy,
      mlflow: this.#o.mlflow,
      log: this.#log,
      now: this.#o.now,
    });
  }

  readonly #kubes = new Map<string, Promise<Kube>>();
  #kube(isvc: string): Promise<Kube> {
    let k = this.#kubes.get(isvc);
    if (!k) {
      k = this.#o.openKube
        ? this.#o.openKube(isvc)
        : openTarget({ isvc, config: this.#o.config.kube, env: this.#o.env }).then((t) => t.kube);
      k.catch(() => this.#kubes.delete(isvc));
      this.#kubes.set(isvc, k);
    }
    return k;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }
}
