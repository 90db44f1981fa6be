// Stand-ins for the two parts of a KServe Serverless installation that are not the API server:
// - the controller, which only writes `status` the way KServe's does (revision names per spec
//   generation, latestCreated/Ready/Rolledout, traffic targets with tag-routing URLs), and
// - Knative's router, as a load driver that sends each request to the canary's or the primary's
//   queue-proxy in the proportion the InferenceService's canaryTrafficPercent asks for.
import type { KubeRig } from './kube.ts';
import { getIsvc, writeIsvcStatus } from './kube-api.ts';

export interface RevisionEndpoint {
  /** The queue-proxy URL of the pods running this image. */
  url: string;
}

export interface FakeKserve {
  /** Current canary share (0..100) the router applies; undefined: no canary (100% to latest). */
  readonly percent: number | undefined;
  /** Requests sent per revision name, and their HTTP status codes. */
  readonly sent: Map<string, { ok: number; failed: number }>;
  stop(): Promise<void>;
}

/**
 * Watch ns/name; give each new image the next revision name `<name>-predictor-0000N`; write status
 * as KServe does; and drive `rps` requests per second of `body()` through the split.
 */
export function fakeKserve(
  rig: KubeRig,
  ns: string,
  name: string,
  endpoints: Map<string, RevisionEndpoint>,
  body: () => unknown,
  rps: number,
): FakeKserve {
  const revisionOf = new Map<string, string>(); // image -> revision
  let rolledOut: string | undefined;
  let previous: string | undefined;
  let created: string | undefined;
  let percent: number | undefined;
  let stopped = false;
  const sent = new Map<string, { ok: number; failed: number }>();
  const urlOf = (rev: string | undefined) => [...revisionOf.entries()].find(([, r]) => r === rev)?.[0] ?? '';

  const reconcile = async () => {
    const isvc = await getIsvc(rig, ns, name);
    const gen = isvc.metadata.generation as number;
    if (isvc.status?.observedGeneration === gen) return;
    const image = isvc.spec.predictor.containers[0].image as string;
    if (!revisionOf.has(image))
      revisionOf.set(image, `${name}-predictor-${String(revisionOf.size + 1).padStart(5, '0')}`);
    created = revisionOf.get(image);
    const canary = isvc.spec.predictor.canaryTrafficPercent as number | undefined;
    // KServe: canaryTrafficPercent only applies once something was rolled out; at 100% the latest
    // revision becomes latestRolledout and the old one previousRolledout.
    if (rolledOut === undefined || canary === undefined || canary === 100) {
      if (rolledOut !== created) {
        previous = rolledOut;
        rolledOut = created;
      }
      percent = undefined;
    } else {
      percent = canary;
    }
    const url = (rev: string | undefined) => endpoints.get(urlOf(rev))?.url;
    const traffic =
      percent === undefined
        ? [{ revisionName: created, percent: 100, latestRevision: true, tag: 'latest', url: url(created) }]
        : [
            { revisionName: created, percent, latestRevision: true, tag: 'latest', url: url(created) },
            {
              revisionName: rolledOut,
              percent: 100 - percent,
              latestRevision: false,
              tag: 'prev',
              url: url(rolledOut),
            },
          ];
    await writeIsvcStatus(rig, ns, name, {
      observedGeneration: gen,
      conditions: [{ type: 'Ready', status: 'True' }],
      components: {
        predictor: {
          latestCreatedRevision: created,
          latestReadyRevision: created,
          latestRolledoutRevision: rolledOut,
          ...(previous ? { previousRolledoutRevision: previous } : {}),
          traffic,
        },
      },
    });
  };

  const controller = (async () => {
    while (!stopped) {
      await reconcile().catch(() => undefined); // 409 races with kiln's applies: next turn
      await new Promise((r) => setTimeout(r, 150));
    }
  })();

  const send = async () => {
    if (!created) return;
    const toCanary = percent === undefined ? true : Math.random() * 100 < percent;
    const rev = toCanary ? created : (rolledOut as string);
    const ep = endpoints.get(urlOf(rev));
    if (!ep) return;
    const res = await fetch(`${ep.url}/v1/models/${name}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [body()] }),
    }).catch(() => undefined);
    await res?.body?.cancel();
    const s = sent.get(rev) ?? { ok: 0, failed: 0 };
    if (res?.ok) s.ok++;
    else s.failed++;
    sent.set(rev, s);
  };
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    if (inflight.size > 20) return; // a slow server must not pile up unbounded requests
    const p = send().finally(() => inflight.delete(p));
    inflight.add(p);
  }, 1000 / rps);

  return {
    get percent() {
      return percent;
    },
    sent,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await controller;
      await Promise.all(inflight);
    },
  };
}
