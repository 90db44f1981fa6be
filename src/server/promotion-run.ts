// One promotion attempt: call the Promoter, time it, log it, and describe the outcome. Recording
// the outcome (store + metrics) is the queue's job, batched with others that end in the same turn.
import { describeCause, isKilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PromoteRequest, PromoteResult, Promoter } from '../pipeline/promote-types.ts';
import type { PromotionRow } from './state.ts';

/**
 * What kiln serve hands its promoter: the request, and which promotion attempt it is, so the
 * dashboard's recorder (dashboard/observe.ts) need not look it up in SQLite for every promotion.
 */
export interface ServedPromoteRequest extends PromoteRequest {
  promotion?: { id: number; attempt: number } | undefined;
}

export type Outcome =
  | { kind: 'succeeded'; row: PromotionRow; result: PromoteResult; seconds: number }
  /** `blocked`: refused by the model security scan (error starts with SCAN_BLOCKED, docs/scan.md). */
  | { kind: 'failed'; row: PromotionRow; error: string; seconds: number; blocked?: boolean }
  /** Stopped by shutdown: not a failure; it stays "running" and is resumed at the next start. */
  | { kind: 'aborted'; row: PromotionRow };

export async function runPromotion(
  promoter: Promoter,
  row: PromotionRow,
  signal: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  const t0 = performance.now();
  const fields = { model: row.name, version: row.version, promotion: row.id };
  log.info(`promoting ${row.name}/${row.version}`, { ...fields, attempt: row.attempts });
  try {
    const req: ServedPromoteRequest = {
      name: row.name,
      version: row.version,
      signal,
      promotion: { id: row.id, attempt: row.attempts },
    };
    const result = await promoter(req);
    const seconds = (performance.now() - t0) / 1000;
    log.info(`promoted ${row.name}/${row.version}: ${result.reference}`, {
      ...fields,
      digest: result.digest,
      reference: result.reference,
      signed: result.signed,
      deployedTo: result.deployedTo,
      reused: result.reused,
      bytesPushed: result.bytesPushed,
      seconds,
    });
    return { kind: 'succeeded', row, result, seconds };
  } catch (e) {
    if (signal.aborted) {
      log.warn(
        `promotion of ${row.name}/${row.version} stopped by shutdown: resumed at the next start`,
        fields,
      );
      return { kind: 'aborted', row };
    }
    const seconds = (performance.now() - t0) / 1000;
    const error = isKilnError(e) ? `${e.code}: ${e.message}` : describeCause(e);
    log.error(`promotion of ${row.name}/${row.version} failed`, {
      ...fields,
      error,
      hint: isKilnError(e) ? e.hint : undefined,
      seconds,
    });
    return {
      kind: 'failed',
      row,
      error,
      seconds,
      ...(isKilnError(e, 'SCAN_BLOCKED') ? { blocked: true } : {}),
    };
  }
}
