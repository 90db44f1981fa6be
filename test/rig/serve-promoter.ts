// A promoter module for `kiln serve --promoter test/rig/serve-promoter.ts` in tests and the bench:
// it records every call as a JSON line (start and finish) in $KILN_TEST_PROMOTER_LOG and takes
// $KILN_TEST_PROMOTER_DELAY_MS. It exercises serve's public extension point; kiln itself reads
// neither variable (only this test module does).
import { appendFileSync } from 'node:fs';
import type { PromoteRequest } from '../../src/pipeline/promote-types.ts';
import type { PromoterContext } from '../../src/server/promoters.ts';
import { fakeResult } from './serve.ts';

export function createPromoter(ctx: PromoterContext) {
  const logFile = ctx.env['KILN_TEST_PROMOTER_LOG'];
  const delayMs = Number(ctx.env['KILN_TEST_PROMOTER_DELAY_MS'] ?? '0');
  const record = (event: string, req: PromoteRequest) => {
    if (logFile) {
      appendFileSync(
        logFile,
        `${JSON.stringify({ event, name: req.name, version: req.version, pid: process.pid })}\n`,
      );
    }
  };
  return async (req: PromoteRequest) => {
    record('start', req);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    record('finish', req);
    return fakeResult(req);
  };
}
