import type { Command } from 'commander';
import type { Kube } from '../../kserve/client.ts';
import { abortRollout, promoteRollout, type RolloutResult } from '../../kserve/deploy.ts';
import type { IsvcRef } from '../../kserve/types.ts';
import { action, type CliContext, type CliIO } from '../context.ts';
import { kubeOptions, openIsvc } from './kube-flags.ts';
import { registerWatch } from './rollout-watch.ts';
import type { RegisterCommand } from './types.ts';

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
  registerWatch(rollout, io);
  return rollout;
};

function step(
  parent: Command,
  io: CliIO,
  name: string,
  description: string,
  run: (kube: Kube, ref: IsvcRef, ctx: CliContext) => Promise<RolloutResult>,
): void {
  kubeOptions(parent.command(name).description(description)).action(
    action(io, async (ctx, cmd) => {
      const { kube, ref } = await openIsvc(ctx, cmd, io);
      const out = await run(kube, ref, ctx);
      const traffic = out.canaryPercent === undefined ? '100%' : `${out.canaryPercent}%`;
      ctx.result(`${out.image} ${traffic}`, { ...out });
    }),
  );
}
