import { rollback } from '../../kserve/deploy.ts';
import { action } from '../context.ts';
import { kubeOptions, openIsvc } from './kube-flags.ts';
import type { RegisterCommand } from './types.ts';

interface RollbackFlags {
  to?: string;
}

export const registerRollback: RegisterCommand = (program, io) =>
  kubeOptions(
    program
      .command('rollback')
      .description('point an InferenceService back at the previous (or a named) digest, no rebuild'),
  )
    .option('--to <digest>', 'a digest (or REPO@sha256:...) from the recorded history')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<RollbackFlags>();
        const { kube, ref } = await openIsvc(ctx, cmd, io);
        const out = await rollback(kube, ref, flags.to, ctx.log);
        ctx.result(out.image, { ...out });
      }),
    );
