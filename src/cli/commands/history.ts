import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerHistory: RegisterCommand = (program, io) =>
  program
    .command('history')
    .description('version -> digest -> signed -> deployed for a registered model, newest first')
    .argument('<name>', 'registered model name')
    .action(action(io, () => notImplemented('history')));
