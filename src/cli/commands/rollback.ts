import { rollback } from '../../kserve/deploy.ts';
import { openTarget } from '../../kserve/target.ts';
import { action } from '../context.ts';
import type { RegisterCommand } from './types.ts';

interface RollbackFlags {
  to?: string;
  context?: string;
  namespace?: string;
}

export const registerRollback: RegisterCommand = (program, io) =>
  program
    .command('rollback')
    .description('point an InferenceService back at the previous (or a named) digest, no rebuild')
    .argument('<isvc>', 'NAMESPACE/NAME (or NAME with --namespace)')
    .option('--to <digest>', 'a digest (or REPO@sha256:...) from the recorded history')
    .option('--context <name>', 'kubeconfig context (default: kube.context, then current-context)')
    .option('--namespace <ns>', 'namespace when <isvc> has none (default: kube.namespace, then the context)')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<RollbackFlags>();
        const { kube, ref } = await openTarget({
          isvc: cmd.args[0] as string,
          namespace: flags.namespace,
          context: flags.context,
          config: ctx.config.kube,
          env: io.env,
        });
        const out = await rollback(kube, ref, flags.to, ctx.log);
        ctx.result(out.image, { ...out });
      }),
    );
