// Wiring one analysis from kiln's config: the model's policy (models[].rollout over rollout over
// the defaults), Prometheus, the MLflow input example and the MLflow outcome hooks. Shared by
// `kiln rollout watch` and `kiln serve`.

import { type RolloutPolicy, resolvePolicy } from '../config/rollout.ts';
import type { Config } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import type { Kube } from '../kserve/client.ts';
import { type Logger, silentLogger } from '../log.ts';
import { MlflowClient, type MlflowOptions } from '../mlflow/index.ts';
import { loadExamples } from './agreement.ts';
import type { ControllerDeps } from './controller.ts';
import { mlflowOutcome } from './mlflow-outcome.ts';
import { PrometheusClient } from './prometheus.ts';
import { prometheusSource } from './provider.ts';

export function policyFor(config: Config, model: string | undefined, prometheusUrl?: string): RolloutPolicy {
  const m = config.models.find((x) => x.name === model);
  const p = resolvePolicy(config.rollout, m?.rollout);
  return prometheusUrl
    ? { ...p, prometheus: { url: prometheusUrl, headers: p.prometheus?.headers ?? {} } }
    : p;
}

/** True when kiln serve should analyse this model's canaries (a rollout policy is configured). */
export function analysisConfigured(config: Config, model: string): boolean {
  return config.rollout !== undefined || config.models.find((x) => x.name === model)?.rollout !== undefined;
}

export function controllerDeps(o: {
  config: Config;
  kube: Kube;
  model: string | undefined;
  version: string | undefined;
  policy: RolloutPolicy;
  mlflow: MlflowOptions | undefined;
  log?: Logger;
  now?: () => number;
}): ControllerDeps {
  const log = o.log ?? silentLogger;
  const p = o.policy;
  if (p.checks.length > 0 && !p.prometheus) {
    throw new KilnError(
      'PROMETHEUS_NOT_CONFIGURED',
      'the rollout policy has metric checks but no Prometheus to ask',
      {
        kind: 'usage',
        hint: 'set rollout.prometheus.url in kiln.yaml (or pass --prometheus URL), or set rollout.checks: []',
      },
    );
  }
  const source = p.prometheus
    ? prometheusSource(
        new PrometheusClient({ url: p.prometheus.url, headers: p.prometheus.headers }),
        p.metrics,
      )
    : undefined;
  const client = o.mlflow?.trackingUri ? new MlflowClient({ ...o.mlflow, log }) : undefined;
  let examples: Promise<{ rows: unknown[]; sources: string[] }> | undefined;
  const alias = o.config.models.find((x) => x.name === o.model)?.alias;
  return {
    kube: o.kube,
    policy: p,
    source,
    examples: () => {
      examples ??=
        client && o.model && o.version
          ? loadExamples(client, o.model, o.version, p.agreement.dataset)
          : Promise.resolve({ rows: [], sources: [] });
      return examples;
    },
    onFinished: client ? mlflowOutcome({ client, policy: p, alias, log }) : undefined,
    log,
    now: o.now,
  };
}
