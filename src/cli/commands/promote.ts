import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerPromote: RegisterCommand = (program, io) =>
  program
    .command('promote')
    .description('resolve -> bake -> push -> sign -> deploy -> record, for one model alias')
    .argument('<model>', 'models:/NAME@ALIAS')
    .option('--to <target>', 'registry repository, oci:DIR or oci-archive:FILE.tar')
    .option('--base <image>', 'runtime base image to bake onto')
    .option('--mode <mode>', 'baked | modelcar')
    .option('--sign-key <file>', 'cosign private key to sign and attest with')
    .option('--deploy <ns/name>', 'InferenceService to point at the new digest')
    .option('--canary <percent>', 'traffic share for the new revision')
    .action(action(io, () => notImplemented('promote')));
