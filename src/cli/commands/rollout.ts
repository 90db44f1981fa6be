import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerRollout: RegisterCommand = (program, io) => {
  const rollout = program.command('rollout').description('move a canary forward or back');
  rollout
    .command('promote')
    .description('send 100% of traffic to the canary revision')
    .argument('<isvc>', 'NAMESPACE/NAME')
    .action(action(io, () => notImplemented('rollout promote')));
  rollout
    .command('abort')
    .description('send 0% of traffic to the canary revision')
    .argument('<isvc>', 'NAMESPACE/NAME')
    .action(action(io, () => notImplemented('rollout abort')));
  return rollout;
};
