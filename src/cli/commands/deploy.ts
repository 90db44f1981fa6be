import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerDeploy: RegisterCommand = (program, io) =>
  program
    .command('deploy')
    .description('point a KServe InferenceService at an image digest, optionally as a canary')
    .argument('<isvc>', 'NAMESPACE/NAME')
    .requiredOption('--image <ref>', 'IMAGE@sha256:...')
    .option('--canary <percent>', 'traffic share for the new revision')
    .option('--gitops <dir>', 'write the InferenceService YAML into a git work tree instead of the cluster')
    .action(action(io, () => notImplemented('deploy')));
