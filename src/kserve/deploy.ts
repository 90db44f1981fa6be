// The library API the CLI and the promote pipeline call: deploy, promote, abort, rollback.
// Plain functions over a `Kube` (see client.ts); no CLI types, no printing.
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { type ApplyOptions, type ApplyOutcome, applyPlanned } from './apply.ts';
import type { Kube } from './client.ts';
import { otherOwners } from './ownership.ts';
import { type DeployRequest, planDeploy } from './plan.ts';
import { planAbort, planPromote, planRollback, planStep } from './plan-rollout.ts';
import { digestOf } from './reference.ts';
import type { InferenceService, IsvcRef } from './types.ts';
import { refString } from './types.ts';

/** What every operation reports: the image now in the spec and where traffic is meant to go. */
export interface RolloutResult {
  namespace: string;
  name: string;
  image: string;
  digest: string;
  mode: 'baked' | 'modelcar';
  canaryPercent: number | undefined;
  model: { name: string; version: string } | undefined;
  /** False when the InferenceService already matched and nothing was written. */
  changed: boolean;
  generation: number | undefined;
  /** Images recorded for rollback, newest first. */
  history: string[];
}

export interface OperationOptions extends ApplyOptions {
  /** Clock for history timestamps (tests pin it). */
  now?: () => Date;
}

function result(ref: IsvcRef, out: ApplyOutcome): RolloutResult {
  return {
    namespace: ref.namespace,
    name: ref.name,
    image: out.state.image,
    digest: digestOf(out.state.image),
    mode: out.state.mode,
    canaryPercent: out.state.canaryPercent,
    model: out.state.model,
    changed: out.changed,
    generation: out.object.metadata.generation,
    history: out.state.history.map((e) => e.image),
  };
}

export type DeployOptions = IsvcRef & DeployRequest;

/** Point `namespace/name` at `image` (created if missing), optionally as a canary. */
export async function deployInferenceService(
  kube: Kube,
  req: DeployOptions,
  log: Logger = silentLogger,
  opts: OperationOptions = {},
): Promise<RolloutResult> {
  const ref = { namespace: req.namespace, name: req.name };
  const now = opts.now ?? (() => new Date());
  const out = await applyPlanned(kube, ref, (live) => planDeploy(ref, live, req, now()), log, opts);
  const canary = out.state.canaryPercent === undefined ? '' : ` as a ${out.state.canaryPercent}% canary`;
  log.info(
    `${refString(ref)} -> ${out.state.image}${canary}${out.changed ? '' : ' (already so; nothing applied)'}`,
  );
  return result(ref, out);
}

/** Send 100% of traffic to the latest revision (removes canaryTrafficPercent). */
export async function promoteRollout(
  kube: Kube,
  ref: IsvcRef,
  log: Logger = silentLogger,
  opts: OperationOptions = {},
): Promise<RolloutResult> {
  const out = await applyPlanned(
    kube,
    ref,
    (live) => {
      refuseSharedCanary(ref, live);
      return planPromote(ref, live);
    },
    log,
    opts,
  );
  if (!out.changed) log.info(`${refString(ref)} has no canary in progress; nothing to promote`);
  return result(ref, out);
}

/** Send 0% to the canary: all traffic back on the last rolled-out revision. */
export async function abortRollout(
  kube: Kube,
  ref: IsvcRef,
  log: Logger = silentLogger,
  opts: OperationOptions = {},
): Promise<RolloutResult> {
  return result(ref, await applyPlanned(kube, ref, (live) => planAbort(ref, live), log, opts));
}

/** Give the canary `percent` of traffic (the analysis' step); refused if `expectImage` is no longer deployed. */
export async function stepRollout(
  kube: Kube,
  ref: IsvcRef,
  percent: number,
  expectImage?: string,
  log: Logger = silentLogger,
  opts: OperationOptions = {},
): Promise<RolloutResult> {
  const out = await applyPlanned(kube, ref, (live) => planStep(ref, live, percent, expectImage), log, opts);
  return result(ref, out);
}

/** Point the predictor back at the previous (or the named) recorded digest; no rebuild. */
export async function rollback(
  kube: Kube,
  ref: IsvcRef,
  to: string | undefined,
  log: Logger = silentLogger,
  opts: OperationOptions = {},
): Promise<RolloutResult> {
  const now = opts.now ?? (() => new Date());
  const out = await applyPlanned(kube, ref, (live) => planRollback(ref, live, to, now()), log, opts);
  log.info(`${refString(ref)} rolled back to ${out.state.image}`);
  return result(ref, out);
}

/**
 * SSA only removes a field when no other manager also owns it: if a person's own apply set
 * canaryTrafficPercent, kiln's promote would silently leave the canary in place. Refuse instead.
 */
function refuseSharedCanary(ref: IsvcRef, live: InferenceService | undefined): void {
  if (live?.spec?.predictor?.canaryTrafficPercent === undefined) return;
  const owners = otherOwners(live, ['spec', 'predictor', 'canaryTrafficPercent']);
  if (owners.length === 0) return;
  throw new KilnError(
    'CANARY_OWNED_ELSEWHERE',
    `canaryTrafficPercent on ${refString(ref)} is also set by ${owners.join(', ')}; kiln cannot remove it alone`,
    {
      kind: 'policy',
      hint: "remove canaryTrafficPercent from that manager's manifest (or kubectl edit), then run kiln rollout promote again",
      details: { owners },
    },
  );
}
