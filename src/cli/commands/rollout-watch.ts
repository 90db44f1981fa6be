import type { Command } from 'commander';
import { z } from 'zod';
import { KilnError } from '../../errors.ts';
import { action, type CliIO } from '../context.ts';
import { parseFlags } from './flags.ts';
import { kubeOptions, openIsvc } from './kube-flags.ts';

// `kiln rollout watch NS/NAME`: run the canary analysis in the foreground until it promotes
// (exit 0) or aborts (exit 3). One line per decision on stderr; the result (final state and every
// decision with its evidence) on stdout, as JSON with --json.

const Flags = z.object({ prometheus: z.string().url().optional() });

export function registerWatch(rollout: Command, io: CliIO): void {
  kubeOptions(
    rollout
      .command('watch')
      .description(
        'analyse the canary (prediction agreement, then metrics per step) and promote or abort it',
      ),
  )
    .option('--prometheus <url>', 'Prometheus to query (default: rollout.prometheus.url in kiln.yaml)')
    .addHelpText('after', '\nExit codes: 0 promoted, 3 aborted or paused (see docs/analysis.md).')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = parseFlags(Flags, cmd.opts(), 'rollout watch');
        const { kube, ref } = await openIsvc(ctx, cmd, io);
        const a = await import('../../analysis/index.ts');
        const { mlflowOptionsFromEnv } = await import('../../mlflow/index.ts');
        const { getStatus } = await import('../../kserve/status.ts');
        const report = await getStatus(kube, ref);
        if (report.canaryPercent === undefined) {
          throw new KilnError(
            'NO_CANARY',
            `InferenceService ${ref.namespace}/${ref.name} has no canary to analyse`,
            {
              kind: 'policy',
              hint: 'deploy one first: kiln deploy NAMESPACE/NAME --image REPO@sha256:... --canary 0',
            },
          );
        }
        const policy = a.policyFor(ctx.config, report.model, flags.prometheus);
        const mlflow = mlflowOptionsFromEnv(io.env, ctx.config.mlflow);
        const deps = a.controllerDeps({
          config: ctx.config,
          kube,
          model: report.model,
          version: report.version,
          policy,
          mlflow: mlflow.trackingUri ? mlflow : undefined,
          log: ctx.log,
        });
        const start = await a.beginAnalysis(deps, ref);
        ctx.log.info(
          `analysing ${ref.namespace}/${ref.name} ${report.model ? `${report.model} version ${report.version}` : report.image}: steps ${policy.steps.join('% ')}%, every ${policy.interval}s`,
        );
        const out = await a.runAnalysis(start, deps, {
          onDecision: (d) => {
            const where =
              d.step < 0 ? 'agreement' : `step ${d.step + 1}/${policy.steps.length} (${d.percent}%)`;
            ctx.log.info(`${where}: ${d.verdict} -> ${d.action}: ${d.reason}`);
          },
        });
        const data = { ...out.state, policy, decisions: out.decisions };
        if (out.superseded) {
          throw new KilnError(
            'ROLLOUT_SUPERSEDED',
            `${ref.namespace}/${ref.name} was changed to another image during the analysis`,
            {
              kind: 'policy',
              hint: 'a newer version replaced the canary; run kiln rollout watch again to analyse it',
              details: data,
            },
          );
        }
        if (out.state.phase !== 'promoted') {
          throw new KilnError(
            out.state.phase === 'paused' ? 'ROLLOUT_PAUSED' : 'ROLLOUT_ABORTED',
            `canary of ${ref.namespace}/${ref.name} ${out.state.phase}: ${out.state.reason ?? ''}`,
            {
              kind: 'policy',
              hint:
                out.state.phase === 'paused'
                  ? 'look at the decisions (--json), then kiln rollout promote or abort'
                  : 'the primary keeps 100% of traffic; see the decisions with --json',
              details: data,
            },
          );
        }
        ctx.result(`promoted ${ref.namespace}/${ref.name} ${out.state.image}`, data);
      }),
    );
}
