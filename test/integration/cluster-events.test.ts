// Kubernetes Events for canary decisions, as a user sees them: `kubectl get events
// --field-selector involvedObject.name=...` against a real kube-apiserver (v1.36.3) with KServe's
// CRDs and controller. kiln deploys the InferenceService; the analysis controller's own `tick`
// records the decision it takes, and the recorder counts a repeated decision on one Event.
// Against a server without the core API (the apiextensions-apiserver rig) and with a service
// account that may not create Events, recording is a quiet no-op that never throws.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tick } from '../../src/analysis/controller.ts';
import { decisionEvent } from '../../src/analysis/events.ts';
import { startAnalysis } from '../../src/analysis/steps.ts';
import type { AnalysisState, Decision } from '../../src/analysis/types.ts';
import { DEFAULT_POLICY, type RolloutPolicy } from '../../src/config/rollout.ts';
import { type Kube, openKube } from '../../src/kserve/client.ts';
import type { InferenceService } from '../../src/kserve/types.ts';
import type { Logger } from '../../src/log.ts';
import { kilnInProcess } from '../rig/cli.ts';
import { type ClusterRig, startCluster } from '../rig/cluster.ts';
import { type KubeRig, startKube } from '../rig/kube.ts';
import { startAll } from '../rig/start-all.ts';

let rig: ClusterRig;
let plain: KubeRig;
let env: NodeJS.ProcessEnv;
let kube: Kube;
const NS = 'ml';
const IMAGE = `127.0.0.1:5000/ml/risk@sha256:${'a'.repeat(64)}`;

before(async () => {
  ({ rig, plain } = await startAll({ rig: startCluster({ kserve: true }), plain: startKube() }));
  env = { ...process.env, KUBECONFIG: rig.kubeconfigPath };
  await rig.api('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  kube = await openKube({ env });
  const r = await kilnInProcess(
    ['deploy', `${NS}/risk`, '--image', IMAGE, '--model-name', 'risk', '--model-version', '4'],
    { env, cwd: rig.dir },
  );
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await Promise.all([rig?.stop(), plain?.stop()]);
});

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects
type Obj = any;

async function eventsOf(name: string): Promise<Obj[]> {
  const q = `fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`;
  return (await rig.api('GET', `/api/v1/namespaces/${NS}/events?${q}`)).json.items;
}

function capture(): Logger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const policy: RolloutPolicy = {
  ...DEFAULT_POLICY,
  checks: [],
  agreement: { ...DEFAULT_POLICY.agreement, enabled: false },
};

test("the controller's decision is an Event on the InferenceService (kind, uid, reason, source)", async () => {
  const live = (await kube.get({ namespace: NS, name: 'risk' })) as InferenceService;
  const s: AnalysisState = {
    ...startAnalysis({ namespace: NS, name: 'risk', model: 'risk', version: '4', image: IMAGE }, policy, 0),
    nextCheckAt: 0,
  };
  // No canary on the object (Standard mode, one version): the controller finds it promoted.
  const r = await tick(s, {
    kube,
    policy,
    source: undefined,
    examples: async () => ({ rows: [], sources: [] }),
  });
  assert.equal(r.kind, 'decided');
  const events = await eventsOf('risk');
  const ev = events.find((e) => e.reason === 'CanaryPromoted');
  assert.ok(ev, `no CanaryPromoted event; saw ${JSON.stringify(events.map((e) => e.reason))}`);
  assert.equal(ev.type, 'Normal');
  assert.equal(ev.involvedObject.kind, 'InferenceService');
  assert.equal(ev.involvedObject.apiVersion, 'serving.kserve.io/v1beta1');
  assert.equal(ev.involvedObject.uid, live.metadata['uid']);
  assert.equal(ev.source.component, 'kiln');
  assert.equal(ev.reportingComponent, 'kiln');
  assert.equal(ev.count, 1);
  assert.match(ev.message, /^risk version 4: the canary already takes 100%/);
});

test('an abort is a Warning with its evidence; the same decision again counts up on one Event', async () => {
  const live = (await kube.get({ namespace: NS, name: 'risk' })) as InferenceService;
  const s = startAnalysis(
    { namespace: NS, name: 'risk', model: 'risk', version: '5', image: IMAGE },
    policy,
    0,
  );
  const d: Decision = {
    at: new Date().toISOString(),
    step: 0,
    percent: 10,
    verdict: 'fail',
    action: 'abort',
    nextPercent: 0,
    reason: 'step 1/3 (10%) failed: success-rate: canary 91.0% vs primary 99.8% (fisher-exact p=0.0001)',
    checks: [],
  };
  const log = capture();
  await kube.recordEvent?.(live, decisionEvent(d, { ...s, phase: 'aborted' }), log);
  let ev = (await eventsOf('risk')).find((e) => e.reason === 'CanaryAborted');
  assert.ok(ev);
  assert.equal(ev.type, 'Warning');
  assert.equal(ev.action, 'Abort');
  assert.equal(ev.message, `risk version 5: ${d.reason}`);
  assert.equal(ev.count, 1);
  const first = ev.firstTimestamp;
  await new Promise((r) => setTimeout(r, 1100));
  await kube.recordEvent?.(live, decisionEvent(d, { ...s, phase: 'aborted' }), log);
  const aborted = (await eventsOf('risk')).filter((e) => e.reason === 'CanaryAborted');
  assert.equal(aborted.length, 1, 'a repeat must not create a second Event');
  ev = aborted[0];
  assert.equal(ev.count, 2);
  assert.equal(ev.firstTimestamp, first);
  assert.ok(Date.parse(ev.lastTimestamp) > Date.parse(first), `${ev.lastTimestamp} after ${first}`);
  assert.deepEqual(log.lines, []);
});

test('a long message is bounded; no rights to Events is a warning once, never an error', async () => {
  const live = (await kube.get({ namespace: NS, name: 'risk' })) as InferenceService;
  await kube.recordEvent?.(live, { type: 'Normal', reason: 'CanaryInconclusive', message: 'x'.repeat(5000) });
  const ev = (await eventsOf('risk')).find((e) => e.reason === 'CanaryInconclusive');
  assert.equal(ev.message.length, 1024);

  await rig.api('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'no-events' },
  });
  const path = `${rig.dir}/no-events.kubeconfig`;
  await rig.serviceAccountKubeconfig(NS, 'no-events', path);
  const weak = await openKube({ env: { ...process.env, KUBECONFIG: path } });
  const log = capture();
  const before = (await eventsOf('risk')).length;
  for (let i = 0; i < 3; i++) {
    await weak.recordEvent?.(live, { type: 'Warning', reason: 'CanaryPaused', message: `try ${i}` }, log);
  }
  assert.equal(log.lines.length, 1, JSON.stringify(log.lines));
  assert.equal(log.lines[0]?.level, 'warn');
  assert.match(log.lines[0]?.msg ?? '', /create, get and patch on events/);
  assert.equal((await eventsOf('risk')).length, before);
});

test('an API server without the core API (apiextensions-apiserver) records nothing and does not throw', async () => {
  const k = await openKube({ env: { ...process.env, KUBECONFIG: plain.kubeconfigPath } });
  const obj = {
    metadata: { name: 'iris', namespace: 'default', uid: '0d3f5e0e-0000-4000-8000-000000000001' },
  };
  const log = capture();
  for (let i = 0; i < 2; i++) {
    await k.recordEvent?.(
      obj as unknown as InferenceService,
      { type: 'Normal', reason: 'CanaryPromoted', message: 'm' },
      log,
    );
  }
  assert.deepEqual(
    log.lines.map((l) => l.level),
    ['debug'],
    JSON.stringify(log.lines),
  );
});
