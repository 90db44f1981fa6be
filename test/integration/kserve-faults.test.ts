// Conflicts and faults against the real API server: a writer racing kiln's apply, a writer that
// never stops, and the API server being down. In every case kiln says what happened and never
// leaves a half-applied InferenceService.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { kilnInProcess } from '../rig/cli.ts';
import { applyAs, getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { startKubeProxy } from '../rig/kube-proxy.ts';

let rig: KubeRig;

before(async () => {
  rig = await startKube();
});
after(async () => {
  await rig?.stop();
});

const image = (c: string) => `127.0.0.1:5000/ml/risk@sha256:${c.repeat(64)}`;

const kiln = (kubeconfig: string, ...argv: string[]) =>
  kilnInProcess(argv, { env: { ...process.env, KUBECONFIG: kubeconfig }, cwd: rig.dir });

const isApply = (r: { method: string; contentType: string | undefined }) =>
  r.method === 'PATCH' && r.contentType === 'application/apply-patch+yaml';

/** Another writer: a platform team bumping minReplicas with its own server-side apply. */
const otherWriter = (name: string, minReplicas: number) =>
  applyAs(rig, 'platform-team', {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { namespace: 'faults', name },
    spec: { predictor: { minReplicas } },
  });

test('an apply that races another writer is retried from the new object; both changes survive', async () => {
  assert.equal((await kiln(rig.kubeconfigPath, 'deploy', 'faults/race', '--image', image('1'))).code, 0);
  let raced = false;
  const proxy = await startKubeProxy(rig, async (req) => {
    if (isApply(req) && !raced) {
      raced = true; // the other write lands between kiln's read and kiln's apply
      await otherWriter('race', 3);
    }
  });
  try {
    const res = await kiln(proxy.kubeconfigPath, 'deploy', 'faults/race', '--image', image('2'));
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /changed while kiln applied; reading it again/);
    assert.equal(proxy.requests.filter(isApply).length, 2, 'one stale apply (409), one retried apply');
    const live = await getIsvc(rig, 'faults', 'race');
    assert.equal(live.spec.predictor.containers[0].image, image('2'));
    assert.equal(live.spec.predictor.minReplicas, 3, "the other writer's change is kept");
  } finally {
    await proxy.stop();
  }
});

test('a writer that keeps racing makes kiln give up after a bounded number of attempts, nothing applied', async () => {
  assert.equal((await kiln(rig.kubeconfigPath, 'deploy', 'faults/busy', '--image', image('1'))).code, 0);
  let n = 0;
  const proxy = await startKubeProxy(rig, async (req) => {
    if (isApply(req)) await otherWriter('busy', ++n);
  });
  try {
    const res = await kiln(proxy.kubeconfigPath, '--json', 'deploy', 'faults/busy', '--image', image('2'));
    assert.equal(res.code, 1);
    const err = JSON.parse(res.stdout).error;
    assert.equal(err.code, 'KUBE_CONFLICT');
    assert.equal(err.details.attempts, 5);
    assert.match(res.stderr, /faults\/busy changed under kiln 5 times in a row; nothing was applied/);
    assert.equal(proxy.requests.filter(isApply).length, 5);
    assert.equal((await getIsvc(rig, 'faults', 'busy')).spec.predictor.containers[0].image, image('1'));
  } finally {
    await proxy.stop();
  }
});

test('with the API server down, deploy and rollback fail clearly naming the server, and nothing changes', async () => {
  assert.equal((await kiln(rig.kubeconfigPath, 'deploy', 'faults/down', '--image', image('1'))).code, 0);
  assert.equal((await kiln(rig.kubeconfigPath, 'deploy', 'faults/down', '--image', image('2'))).code, 0);
  const before = await getIsvc(rig, 'faults', 'down');
  await rig.stopApiServer();
  try {
    for (const argv of [
      ['deploy', 'faults/down', '--image', image('3')],
      ['rollback', 'faults/down'],
    ]) {
      const t0 = performance.now();
      const res = await kiln(rig.kubeconfigPath, '--json', ...argv);
      assert.equal(res.code, 1, argv.join(' '));
      assert.equal(JSON.parse(res.stdout).error.code, 'KUBE_UNREACHABLE');
      assert.ok(res.stderr.includes(`on ${rig.server}`), res.stderr);
      assert.match(res.stderr, /ECONNREFUSED/);
      assert.ok(performance.now() - t0 < 5000, 'fails fast, no hang');
    }
  } finally {
    await rig.startApiServer();
  }
  const afterwards = await getIsvc(rig, 'faults', 'down');
  assert.equal(afterwards.metadata.resourceVersion, before.metadata.resourceVersion, 'nothing was written');
  assert.equal(afterwards.spec.predictor.containers[0].image, image('2'));
});
