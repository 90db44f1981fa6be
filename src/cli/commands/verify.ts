import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerVerify: RegisterCommand = (program, io) =>
  program
    .command('verify')
    .description('verify the signatures (and with --attestation, the provenance) of an image by digest')
    .argument('<image>', 'IMAGE@sha256:...')
    .requiredOption('--key <file>', 'public key (PEM)')
    .option('--attestation', 'also verify the SLSA provenance attestation')
    .action(action(io, () => notImplemented('verify')));
