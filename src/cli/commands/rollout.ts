import type { Command } from 'commander';
import { abortRollout, promoteRollout, type RolloutResult } from '../../kserve/deploy.ts';
import { openTarget } from '../../kserve/target.ts';
import { action, type CliContext, type CliIO } from '../context.ts';
import type { RegisterCommand } from './types.ts';

interface TargetFlags {
  context?: string;
  namespace?: string;
}

export const registerRollout: RegisterCommand = (program, io) => {
  const rollout = program.command('rollout').description('move a canary forward or back');
  step(
    rollout,
    io,
    'promote',
    'send 100% of traffic to the canary revision (removes canaryTrafficPercent)',
    (kube, ref, ctx) => promoteRollout(kube, ref, ctx.log),
  );
  step(
    rollout,
    io,
    'abort',
    'send 0% of traffic to the canary revision (canaryTrafficPercent: 0)',
    (kube, ref, ctx) => abortRollout(kube, ref, ctx.log),
  );
  return rollout;
};

function step(
  parent: Command,
  io: CliIO,
  name: string,
  description: string,
  run: (
    kube: Awaited<ReturnType<typeof openTarget>>['kube'],
    ref: Awaited<ReturnType<typeof openTarget>>['ref'],
    ctx: CliContext,
  ) => Promise<RolloutResult>,
): void {
  parent
    .command(name)
    .description(description)
    .argument('<isvc>', 'NAMESPACE/NAME (or NAME with --namespace)')
    .option('--context <name>', 'kubeconfig context (default: kube.context, then current-context)')
    .option('--namespace <ns>', 'namespace when <isvc> has none (default: kube.namespace, then the context)')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<TargetFlags>();
        const { kube, ref } = await openTarget({
          isvc: cmd.args[0] as string,
          namespace: flags.namespace,
          context: flags.context,
          config: ctx.config.kube,
          env: io.env,
        });
        const out = await run(kube, ref, ctx);
        const traffic = out.canaryPercent === undefined ? '100%' : `${out.canaryPercent}%`;
        ctx.result(`${out.image} ${traffic}`, { ...out });
      }),
    );
}
