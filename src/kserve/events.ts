// Kubernetes Events on the InferenceService, so `kubectl describe inferenceservice` and
// `kubectl get events` show why a canary advanced, was promoted or aborted (as Flagger's do).
// core/v1 Events, not events.k8s.io/v1: both land in the same storage, but `kubectl describe`
// renders core's count/firstTimestamp/lastTimestamp ("x3 over 2m"), which events.k8s.io/v1 refuses
// on create (it wants `series`), and client-go's record package (Flagger, KServe) writes core/v1.
// https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
// A repeat of the same reason and message for the same object bumps `count` on one Event, like
// client-go's EventCorrelator, but keyed by a stable name (uid + reason + message hash) instead of an
// in-memory cache, so `kiln rollout watch` runs and a restarted `kiln serve` correlate too.
// Events are never worth failing an analysis for: every error is logged and swallowed.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObjectApi, RequestContext } from '@kubernetes/client-node';
import { describeCause } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { API_VERSION, type InferenceService, KIND } from './types.ts';

export const EVENT_COMPONENT = 'kiln';
/** The API server stores up to 1 KiB of message comfortably; kubectl shows one line of it. */
export const MAX_MESSAGE = 1024;

export interface KubeEvent {
  type: 'Normal' | 'Warning';
  /** Stable CamelCase, e.g. CanaryPromoted: what a user filters on. */
  reason: string;
  message: string;
  /** What kiln did (core/v1 `action`), e.g. Promote. */
  action?: string;
}

/** Never throws; a skipped Event (no rights, no core API, API server down) is reported to `log`. */
export type EventRecorder = (obj: InferenceService, ev: KubeEvent, log?: Logger) => Promise<void>;

export function eventRecorder(
  kc: KubeConfig,
  timeoutMs: number,
  now: () => number = Date.now,
): EventRecorder {
  let api: Promise<KubernetesObjectApi> | undefined;
  let disabled = false;
  const instance = hostname();
  return async (obj, ev, log = silentLogger) => {
    const { name, namespace } = obj.metadata;
    const uid = obj.metadata['uid'];
    if (disabled || !namespace || typeof uid !== 'string') return;
    api ??= objectApi(kc, timeoutMs);
    const eventName = eventNameFor(name, uid, ev);
    const at = new Date(now()).toISOString();
    const message = bound(ev.message);
    try {
      const client = await api;
      try {
        await client.create({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: eventName, namespace },
          involvedObject: {
            apiVersion: API_VERSION,
            kind: KIND,
            name,
            namespace,
            uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
          reason: ev.reason,
          message,
          type: ev.type,
          action: ev.action,
          source: { component: EVENT_COMPONENT },
          reportingComponent: EVENT_COMPONENT,
          reportingInstance: instance.slice(0, 128),
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1,
        } as never);
      } catch (e) {
        if (codeOf(e) !== 409) throw e;
        // The same decision again: count it on the Event that exists (client-go patches the same way).
        const ref = { apiVersion: 'v1', kind: 'Event', metadata: { name: eventName, namespace } };
        const old = (await client.read(ref)) as { count?: number };
        await client.patch(
          { ...ref, count: (old.count ?? 1) + 1, lastTimestamp: at } as never,
          undefined,
          undefined,
          undefined,
          undefined,
          'application/merge-patch+json',
        );
      }
    } catch (e) {
      const code = codeOf(e);
      if (code === 404 || code === 403 || code === 401) {
        // No core API (an apiextensions-only server) or no rights: say so once, then stop trying.
        disabled = true;
        const msg =
          code === 404
            ? 'this API server does not serve core/v1 Events; kiln records no Events'
            : 'kiln may not create Events here (grant create, get and patch on events); kiln records no Events';
        if (code === 404) log.debug(msg, { namespace, error: describeCause(e) });
        else log.warn(msg, { namespace, error: describeCause(e) });
        return;
      }
      log.warn(`could not record the Event ${ev.reason} on InferenceService ${namespace}/${name}`, {
        error: describeCause(e),
      });
    }
  };
}

/** `<object>.<16 hex>`: a valid name (<= 253 chars) that is the same for the same object and decision. */
export function eventNameFor(name: string, uid: string, ev: KubeEvent): string {
  const h = createHash('sha256')
    .update(`${uid}\0${ev.type}\0${ev.reason}\0${bound(ev.message)}`)
    .digest('hex')
    .slice(0, 16);
  return `${name.slice(0, 253 - 17)}.${h}`;
}

function bound(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 3)}...`;
}

async function objectApi(kc: KubeConfig, timeoutMs: number): Promise<KubernetesObjectApi> {
  const { KubernetesObjectApi } = await import('./k8s-api.ts');
  // The generic object client (26 kB) rather than CoreV1Api (1.5 MB of generated request code the
  // bundle would carry for two calls); it finds the `events` resource by discovery (GET /api/v1).
  const client = KubernetesObjectApi.makeApiClient(kc);
  // Same per-request deadline as client.ts: a black-holed API server must not hold an analysis turn.
  const deadline = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      return { toPromise: () => Promise.resolve(ctx) };
    },
    post: (res: unknown) => ({ toPromise: () => Promise.resolve(res) }),
  };
  (client as unknown as { configuration: { middleware: unknown[] } }).configuration.middleware.push(deadline);
  return client;
}

function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}
