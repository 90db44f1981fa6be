import type { Command } from 'commander';
import type { Kube } from '../../kserve/client.ts';
import { openTarget } from '../../kserve/target.ts';
import type { IsvcRef } from '../../kserve/types.ts';
import type { CliContext, CliIO } from '../context.ts';

// The cluster flags every InferenceService command shares, and the one way they are resolved
// (flags over kiln.yaml `kube:` over the kubeconfig), so the commands cannot drift apart.

export interface KubeFlags {
  context?: string;
  namespace?: string;
}

export function kubeOptions(cmd: Command): Command {
  return cmd
    .argument('<isvc>', 'NAMESPACE/NAME (or NAME with --namespace)')
    .option('--context <name>', 'kubeconfig context (default: kube.context, then current-context)')
    .option('--namespace <ns>', 'namespace when <isvc> has none (default: kube.namespace, then the context)');
}

export function openIsvc(ctx: CliContext, cmd: Command, io: CliIO): Promise<{ kube: Kube; ref: IsvcRef }> {
  const flags = cmd.opts<KubeFlags>();
  return openTarget({
    isvc: cmd.args[0] as string,
    namespace: flags.namespace,
    context: flags.context,
    config: ctx.config.kube,
    env: io.env,
  });
}
