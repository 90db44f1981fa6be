import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerAttest: RegisterCommand = (program, io) =>
  program
    .command('attest')
    .description('attach an SLSA provenance attestation (DSSE, cosign .att format) to an image by digest')
    .argument('<image>', 'IMAGE@sha256:...')
    .requiredOption('--key <file>', 'private key')
    .action(action(io, () => notImplemented('attest')));
