import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerRollback: RegisterCommand = (program, io) =>
  program
    .command('rollback')
    .description('point an InferenceService back at the previous (or a named) digest, no rebuild')
    .argument('<isvc>', 'NAMESPACE/NAME')
    .option('--to <digest>', 'a digest from the recorded history')
    .action(action(io, () => notImplemented('rollback')));
