import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerStatus: RegisterCommand = (program, io) =>
  program
    .command('status')
    .description('which digest serves what share of traffic, and which MLflow version each is')
    .argument('<isvc>', 'NAMESPACE/NAME')
    .action(action(io, () => notImplemented('status')));
