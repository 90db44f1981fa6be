// The coalescing rules, as one pure function over a model's state (so they are unit-tested
// without a clock or a database). A model is serialized: at most one promotion running and at most
// one queued; the queued one is always the newest version the alias was seen pointing at.
//
// "Where the model is heading" = the queued version, else the running one, else the last one that
// succeeded. An offer for that version changes nothing (duplicate webhook, reconcile of a settled
// alias). Any other version is a newer desired state: it replaces what is queued. The running
// promotion is never interrupted, but since the next one for the model waits for it, a newer
// version always deploys after (over) an older one, never the other way round.
//
// One promotion per (model, version), except: a failed one is retried by the next offer (it
// never became "heading"), and an alias moved BACK to a version promoted earlier promotes it again
// so the deployment follows the alias (promote is idempotent: that run reuses the image, no build).
import type { ModelState } from './state-types.ts';

export interface Offer {
  name: string;
  version: string;
  /** When the alias was seen at this version (µs): MLflow's send time, or the reconcile's start. */
  eventAtUs: number;
}

export type Decision =
  /** An older event than one already seen for this model: the alias has moved on since. */
  | { action: 'ignore'; reason: 'outdated' }
  /** The model is already heading to this version. */
  | { action: 'ignore'; reason: 'queued' | 'running' | 'deployed' }
  /** The running promotion is this version: drop the queued (now out of date) one, add nothing. */
  | { action: 'drop-queued'; drop: number }
  /** Queue this version, replacing the queued one if any. */
  | { action: 'enqueue'; drop: number | undefined };

export function decide(state: ModelState, offer: Offer): Decision {
  if (state.lastEventAtUs !== undefined && offer.eventAtUs < state.lastEventAtUs) {
    return { action: 'ignore', reason: 'outdated' };
  }
  const { queued, running, deployed } = state;
  if (queued) {
    if (queued.version === offer.version) return { action: 'ignore', reason: 'queued' };
    if (running?.version === offer.version) return { action: 'drop-queued', drop: queued.id };
    return { action: 'enqueue', drop: queued.id };
  }
  if (running) {
    if (running.version === offer.version) return { action: 'ignore', reason: 'running' };
    return { action: 'enqueue', drop: undefined };
  }
  if (deployed?.version === offer.version) return { action: 'ignore', reason: 'deployed' };
  return { action: 'enqueue', drop: undefined };
}

/** The word a webhook answer and the logs use for a decision. */
export function decisionWord(d: Decision): string {
  if (d.action === 'ignore') return d.reason === 'outdated' ? 'outdated' : `already-${d.reason}`;
  if (d.action === 'drop-queued') return 'already-running';
  return d.drop === undefined ? 'queued' : 'queued-superseding';
}
