import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerSign: RegisterCommand = (program, io) =>
  program
    .command('sign')
    .description('sign an image by digest with a cosign-compatible key (classic .sig tag)')
    .argument('<image>', 'IMAGE@sha256:... (a digest, never a tag)')
    .requiredOption('--key <file>', 'private key (cosign.key, or PKCS#8 EC P-256 PEM)')
    .action(action(io, () => notImplemented('sign')));
