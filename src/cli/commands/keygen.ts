import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerKeygen: RegisterCommand = (program, io) =>
  program
    .command('keygen')
    .description('write a cosign-compatible key pair (P.key encrypted, P.pub)')
    .option('--output-key-prefix <prefix>', 'file name prefix', 'cosign')
    .action(action(io, () => notImplemented('keygen')));
