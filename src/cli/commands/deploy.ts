import { Option } from 'commander';
import { KilnError } from '../../errors.ts';
import { gitopsRef, openTarget } from '../../kserve/target.ts';
import type { ImageMode } from '../../kserve/types.ts';
import { action } from '../context.ts';
import type { RegisterCommand } from './types.ts';

interface DeployFlags {
  image: string;
  canary?: string;
  mode?: ImageMode;
  modelName?: string;
  modelVersion?: string;
  modelFormat?: string;
  runtime?: string;
  gitops?: string;
  context?: string;
  namespace?: string;
}

export const registerDeploy: RegisterCommand = (program, io) =>
  program
    .command('deploy')
    .description('point a KServe InferenceService at an image digest, optionally as a canary')
    .argument('<isvc>', 'NAMESPACE/NAME (or NAME with --namespace)')
    .requiredOption('--image <ref>', 'IMAGE@sha256:... (a tag alone is refused)')
    .option('--canary <percent>', 'traffic share (0-100) for the new revision; omit for a full rollout')
    .addOption(
      new Option('--mode <mode>', 'baked image or modelcar (default: build.mode)').choices([
        'baked',
        'modelcar',
      ]),
    )
    .option('--model-name <name>', 'MLflow registered model name (recorded on the InferenceService)')
    .option('--model-version <version>', 'MLflow model version (recorded on the InferenceService)')
    .option('--model-format <format>', 'modelcar: KServe model format, selects the runtime (default sklearn)')
    .option('--runtime <name>', 'modelcar: a ServingRuntime name to use explicitly')
    .option(
      '--gitops <dir>',
      'write the InferenceService YAML into a git work tree and commit, instead of the cluster',
    )
    .option('--context <name>', 'kubeconfig context (default: kube.context, then current-context)')
    .option('--namespace <ns>', 'namespace when <isvc> has none (default: kube.namespace, then the context)')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<DeployFlags>();
        const isvc = cmd.args[0] as string;
        const canaryPercent = parsePercent(flags.canary);
        if ((flags.modelName === undefined) !== (flags.modelVersion === undefined)) {
          throw new KilnError('MODEL_FLAGS_INCOMPLETE', '--model-name and --model-version go together', {
            kind: 'usage',
            hint: 'pass both (e.g. --model-name risk-classifier --model-version 7) or neither',
          });
        }
        const request = {
          image: flags.image,
          mode: flags.mode ?? ctx.config.build.mode,
          canaryPercent,
          model:
            flags.modelName && flags.modelVersion
              ? { name: flags.modelName, version: flags.modelVersion }
              : undefined,
          modelFormat: flags.modelFormat,
          runtime: flags.runtime,
        };
        const target = {
          isvc,
          namespace: flags.namespace,
          context: flags.context,
          config: ctx.config.kube,
          env: io.env,
        };
        if (flags.gitops !== undefined) {
          const ref = gitopsRef(target);
          // Loaded when used: the YAML round-tripping library is not needed for a cluster deploy.
          const { deployToGitops } = await import('../../kserve/gitops.ts');
          const out = await deployToGitops(flags.gitops, { ...ref, ...request }, ctx.log, { env: io.env });
          ctx.result(out.state.image, {
            namespace: ref.namespace,
            name: ref.name,
            image: out.state.image,
            canaryPercent: out.state.canaryPercent,
            model: out.state.model,
            gitops: { path: out.path, changed: out.changed, commit: out.commit },
          });
          return;
        }
        const { kube, ref } = await openTarget(target);
        const { deployInferenceService } = await import('../../kserve/deploy.ts');
        const out = await deployInferenceService(kube, { ...ref, ...request }, ctx.log);
        ctx.result(out.image, { ...out });
      }),
    );

function parsePercent(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > 100) {
    throw new KilnError('CANARY_INVALID', `--canary ${raw} is not a whole number from 0 to 100`, {
      kind: 'usage',
      hint: 'e.g. --canary 10 sends 10% of requests to the new digest',
    });
  }
  return Number(raw);
}
