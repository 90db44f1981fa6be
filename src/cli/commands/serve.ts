import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerServe: RegisterCommand = (program, io) =>
  program
    .command('serve')
    .description('run the MLflow webhook receiver and alias reconciler')
    .action(action(io, () => notImplemented('serve')));
