// Read -> plan -> one server-side apply, retried on conflict. The apply carries the
// resourceVersion that was read, so a write that raced in between (another manager, KServe's
// controller writing status) makes the API server answer 409 and kiln re-plans from the new
// object instead of overwriting it. One apply request per change: never half-applied.
import { isKilnError, KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { ANNOTATION_PREFIX } from './annotations.ts';
import type { Kube } from './client.ts';
import { type KilnState, renderInferenceService } from './render.ts';
import { type InferenceService, type IsvcRef, KSERVE_CONTAINER, refString } from './types.ts';

export interface ApplyOutcome {
  object: InferenceService;
  state: KilnState;
  /** False when the live object already matched: nothing was written. */
  changed: boolean;
  attempts: number;
}

export interface ApplyOptions {
  /** Total attempts when the object keeps changing under kiln (default 5). */
  attempts?: number;
}

export async function applyPlanned(
  kube: Kube,
  ref: IsvcRef,
  plan: (live: InferenceService | undefined) => KilnState,
  log: Logger = silentLogger,
  opts: ApplyOptions = {},
): Promise<ApplyOutcome> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const live = await kube.get(ref);
    const state = plan(live);
    const body = renderInferenceService(ref, state, live, {
      resourceVersion: live?.metadata?.resourceVersion,
    });
    if (live && !needsApply(body, live)) {
      log.debug(`${refString(ref)} already as wanted; nothing applied`);
      return { object: live, state, changed: false, attempts: attempt };
    }
    try {
      const object = await kube.apply(ref, body);
      return { object, state, changed: true, attempts: attempt };
    } catch (e) {
      if (!isKilnError(e, 'KUBE_CONFLICT')) throw e;
      if (attempt >= attempts) {
        throw new KilnError(
          'KUBE_CONFLICT',
          `InferenceService ${refString(ref)} changed under kiln ${attempts} times in a row; nothing was applied`,
          {
            hint: 'another writer keeps updating it (see metadata.managedFields); run the command again',
            cause: e,
            details: { attempts, ...e.details },
          },
        );
      }
      log.warn(`${refString(ref)} changed while kiln applied; reading it again`, { attempt });
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 30));
    }
  }
}

/** Does applying `body` change anything kiln owns on `live`? (Skipping no-op applies keeps deploys idempotent.) */
export function needsApply(body: InferenceService, live: InferenceService): boolean {
  const want = body.metadata.annotations ?? {};
  const have = live.metadata.annotations ?? {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) return true;
  for (const k of Object.keys(have)) if (k.startsWith(ANNOTATION_PREFIX) && !(k in want)) return true;
  const p = body.spec.predictor;
  const l = live.spec?.predictor ?? {};
  if (p.canaryTrafficPercent !== l.canaryTrafficPercent) return true;
  if (p.containers) {
    if (!same(p.containers, l.containers)) return true;
  } else if (l.containers?.some((c) => c.name === KSERVE_CONTAINER)) {
    return true;
  }
  if (p.model) {
    for (const [k, v] of Object.entries(p.model)) if (!same(v, l.model?.[k])) return true;
  } else if (l.model?.storageUri?.startsWith('oci://')) {
    return true;
  }
  return false;
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}
