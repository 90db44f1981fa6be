import { KilnError } from '../../errors.ts';

/** Commands whose issue has not landed yet say so plainly (exit 2), rather than doing half a job. */
export function notImplemented(name: string): never {
  throw new KilnError('NOT_IMPLEMENTED', `kiln ${name}: not implemented yet`, {
    kind: 'usage',
    hint: 'see the project issues for when this command lands',
  });
}
