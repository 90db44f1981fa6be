import { registerAttest } from './attest.ts';
import { registerBake } from './bake.ts';
import { registerCompletion } from './completion.ts';
import { registerDeploy } from './deploy.ts';
import { registerExport } from './export.ts';
import { registerHistory } from './history.ts';
import { registerImport } from './import.ts';
import { registerKeygen } from './keygen.ts';
import { registerPromote } from './promote.ts';
import { registerRollback } from './rollback.ts';
import { registerRollout } from './rollout.ts';
import { registerScan } from './scan.ts';
import { registerServe } from './serve.ts';
import { registerSign } from './sign.ts';
import { registerStatus } from './status.ts';
import type { RegisterCommand } from './types.ts';
import { registerVerify } from './verify.ts';

export const COMMANDS: readonly RegisterCommand[] = [
  registerPromote,
  registerBake,
  registerSign,
  registerAttest,
  registerVerify,
  registerScan,
  registerDeploy,
  registerRollout,
  registerRollback,
  registerStatus,
  registerHistory,
  registerServe,
  registerExport,
  registerImport,
  registerKeygen,
  registerCompletion,
];
