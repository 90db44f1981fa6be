// Wraps kiln serve's Promoter so every promotion's stages, log lines and error (with its hint) land
// in SQLite for the dashboard. The queue names the attempt in the request (promotion-run.ts);
// without it (another caller), the queue marks a promotion running before it calls the promoter
// and runs one promotion per model at a time, so (model -> running row) names it.
// Promoters that ignore the observer (the Job executor, a --promoter module) simply record none.
import { isKilnError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { PromoteObserver, Promoter } from '../../pipeline/promote-types.ts';
import type { ServedPromoteRequest } from '../promotion-run.ts';
import type { DashboardRecords } from './records.ts';

export function observedPromoter(promoter: Promoter, records: DashboardRecords, log: Logger): Promoter {
  return async (served: ServedPromoteRequest) => {
    const { promotion, ...req } = served;
    const row = promotion ?? safe(log, () => toAttempt(records.running(req.name)));
    if (!row) return promoter(req);
    const { id, attempt } = row;
    const observer: PromoteObserver = {
      stageStart: (stage, at) => safe(log, () => records.stageStart(id, attempt, stage, at)),
      stageEnd: (stage, at, end) => safe(log, () => records.stageEnd(id, attempt, stage, at, end)),
      log: (level, msg, fields) => safe(log, () => records.log(id, attempt, level, msg, fields)),
    };
    try {
      return await promoter({ ...req, observer });
    } catch (e) {
      const error = {
        code: isKilnError(e) ? e.code : undefined,
        message: e instanceof Error ? e.message : String(e),
        hint: isKilnError(e) ? e.hint : undefined,
      };
      safe(log, () => {
        records.error(id, attempt, error);
        records.log(
          id,
          attempt,
          'error',
          `failed: ${error.code ? `${error.code}: ` : ''}${error.message}`,
          undefined,
        );
      });
      throw e;
    }
  };
}

function toAttempt(r: { id: number; attempts: number } | undefined) {
  return r && { id: r.id, attempt: r.attempts };
}

/** Recording is for people looking later: it never fails a promotion. */
function safe<T>(log: Logger, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    log.warn('recording a promotion detail for the dashboard failed', { error: String(e) });
    return undefined;
  }
}
