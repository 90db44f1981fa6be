// deploy -> status -> promote -> second deploy -> rollback through the CLI, against a real API
// server that validates every object with KServe's CRD. A test writes `status` the way KServe's
// controller does (and nothing else) to exercise status and canary readings.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kilnInProcess } from '../rig/cli.ts';
import { applyAs, getIsvc, type KubeRig, startKube, writeIsvcStatus } from '../rig/kube.ts';
import { REPO_ROOT } from '../rig/proc.ts';

let rig: KubeRig;
let env: NodeJS.ProcessEnv;

before(async () => {
  rig = await startKube();
  env = { ...process.env, KUBECONFIG: rig.kubeconfigPath };
});
after(async () => {
  await rig?.stop();
});

const REPO = '127.0.0.1:5000/ml/risk-classifier';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const image = (c: string) => `${REPO}@${digest(c)}`;

const kiln = (...argv: string[]) => kilnInProcess(argv, { env, cwd: rig.dir });

const predictor = async (ns: string, name: string) => (await getIsvc(rig, ns, name)).spec.predictor;
const kserveContainer = async (ns: string, name: string) =>
  (await predictor(ns, name)).containers.find((c: { name: string }) => c.name === 'kserve-container');

/** What KServe writes for a Knative-backed predictor (serverless), reduced to the fields kiln reads. */
function knativeStatus(
  generation: number,
  p: { created: string; rolledOut: string; previous?: string; canary?: number },
) {
  const traffic =
    p.canary === undefined
      ? [{ revisionName: p.created, percent: 100, latestRevision: true, tag: 'latest' }]
      : [
          { revisionName: p.created, percent: p.canary, latestRevision: true, tag: 'latest' },
          { revisionName: p.rolledOut, percent: 100 - p.canary, latestRevision: false, tag: 'prev' },
        ];
  return {
    observedGeneration: generation,
    conditions: [{ type: 'Ready', status: 'True' }],
    components: {
      predictor: {
        latestCreatedRevision: p.created,
        latestReadyRevision: p.created,
        latestRolledoutRevision: p.rolledOut,
        ...(p.previous ? { previousRolledoutRevision: p.previous } : {}),
        traffic,
      },
    },
  };
}

const RESOURCES = { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } };

test('deploy -> status -> promote -> second deploy -> rollback, keeping fields another manager owns', async () => {
  const ns = 'prod';
  const name = 'risk-classifier';
  // A platform team's own server-side apply owns the container's resources and minReplicas.
  await applyAs(rig, 'platform-team', {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { namespace: ns, name },
    spec: {
      predictor: {
        minReplicas: 2,
        containers: [{ name: 'kserve-container', image: image('0'), resources: RESOURCES }],
      },
    },
  });
  const untouched = async () => {
    assert.deepEqual((await kserveContainer(ns, name)).resources, RESOURCES);
    assert.equal((await predictor(ns, name)).minReplicas, 2);
  };

  const first = await kiln(
    'deploy',
    `${ns}/${name}`,
    '--image',
    image('1'),
    '--model-name',
    'risk-classifier',
    '--model-version',
    '1',
  );
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `${image('1')}\n`);
  let container = await kserveContainer(ns, name);
  assert.equal(container.image, image('1'));
  assert.deepEqual(container.args, ['--model_name=risk-classifier', '--model_dir=/mnt/models']);
  await untouched();
  await writeIsvcStatus(
    rig,
    ns,
    name,
    knativeStatus(2, { created: 'rc-00002', rolledOut: 'rc-00002', previous: 'rc-00001' }),
  );

  const canary = await kiln(
    'deploy',
    `${ns}/${name}`,
    '--image',
    image('2'),
    '--canary',
    '10',
    '--model-name',
    'risk-classifier',
    '--model-version',
    '2',
  );
  assert.equal(canary.code, 0, canary.stderr);
  assert.equal((await predictor(ns, name)).canaryTrafficPercent, 10);
  await untouched();
  const generation = (await getIsvc(rig, ns, name)).metadata.generation;
  await writeIsvcStatus(
    rig,
    ns,
    name,
    knativeStatus(generation, { created: 'rc-00003', rolledOut: 'rc-00002', canary: 10 }),
  );

  const status = await kiln('--json', 'status', `${ns}/${name}`);
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout);
  assert.equal(report.reconciled, true);
  const rows = Object.fromEntries(report.revisions.map((r: { revision: string }) => [r.revision, r]));
  assert.deepEqual(
    [rows['rc-00003'].percent, rows['rc-00003'].digest, rows['rc-00003'].version],
    [10, digest('2'), '2'],
  );
  assert.deepEqual(
    [rows['rc-00002'].percent, rows['rc-00002'].digest, rows['rc-00002'].version],
    [90, digest('1'), '1'],
  );
  const table = await kiln('status', `${ns}/${name}`);
  assert.match(table.stdout, /rc-00003\s+10%\s+sha256:222222222222\s+risk-classifier\s+2\s+latest/);
  assert.match(table.stdout, /rc-00002\s+90%\s+sha256:111111111111\s+risk-classifier\s+1\s+prev/);

  const promote = await kiln('rollout', 'promote', `${ns}/${name}`);
  assert.equal(promote.code, 0, promote.stderr);
  assert.equal(
    (await predictor(ns, name)).canaryTrafficPercent,
    undefined,
    'promote removes canaryTrafficPercent',
  );
  await untouched();

  const second = await kiln(
    'deploy',
    `${ns}/${name}`,
    '--image',
    image('3'),
    '--model-name',
    'risk-classifier',
    '--model-version',
    '3',
  );
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await kserveContainer(ns, name)).image, image('3'));
  await untouched();

  const back = await kiln('rollback', `${ns}/${name}`);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout, `${image('2')}\n`);
  container = await kserveContainer(ns, name);
  assert.equal(container.image, image('2'), 'after rollback the predictor serves the earlier digest');
  const annotations = (await getIsvc(rig, ns, name)).metadata.annotations;
  assert.equal(annotations['kiln.dev/model-version'], '2');
  await untouched();

  // --to names any recorded digest, including the one the platform team started with.
  const to = await kiln('rollback', `${ns}/${name}`, '--to', digest('0'));
  assert.equal(to.code, 0, to.stderr);
  assert.equal((await kserveContainer(ns, name)).image, image('0'));
  await untouched();
});

test('rollout abort sets canaryTrafficPercent to 0 and deploying the same digest again changes nothing', async () => {
  const ref = 'prod/abort-me';
  assert.equal((await kiln('deploy', ref, '--image', image('a'))).code, 0);
  assert.equal((await kiln('deploy', ref, '--image', image('b'), '--canary', '25')).code, 0);
  const abort = await kiln('rollout', 'abort', ref);
  assert.equal(abort.code, 0, abort.stderr);
  assert.equal((await predictor('prod', 'abort-me')).canaryTrafficPercent, 0);
  const before = (await getIsvc(rig, 'prod', 'abort-me')).metadata.resourceVersion;
  const again = await kiln('--json', 'deploy', ref, '--image', image('b'), '--canary', '0');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).changed, false);
  assert.equal((await getIsvc(rig, 'prod', 'abort-me')).metadata.resourceVersion, before, 'no write at all');
});

test('promote refuses (exit 3) when another manager also owns canaryTrafficPercent, naming it', async () => {
  await applyAs(rig, 'platform-team', {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { namespace: 'prod', name: 'shared' },
    spec: {
      predictor: { canaryTrafficPercent: 10, containers: [{ name: 'kserve-container', image: image('a') }] },
    },
  });
  assert.equal((await kiln('deploy', 'prod/shared', '--image', image('b'), '--canary', '10')).code, 0);
  const before = (await getIsvc(rig, 'prod', 'shared')).metadata.resourceVersion;
  const res = await kiln('--json', 'rollout', 'promote', 'prod/shared');
  assert.equal(res.code, 3, res.stderr);
  assert.equal(JSON.parse(res.stdout).error.code, 'CANARY_OWNED_ELSEWHERE');
  assert.match(res.stderr, /canaryTrafficPercent on prod\/shared is also set by platform-team/);
  assert.equal((await getIsvc(rig, 'prod', 'shared')).metadata.resourceVersion, before);
});

test('modelcar mode writes storageUri oci://REPO@sha256 with a model format', async () => {
  const res = await kiln(
    'deploy',
    'prod/carried',
    '--image',
    image('c'),
    '--mode',
    'modelcar',
    '--model-format',
    'sklearn',
  );
  assert.equal(res.code, 0, res.stderr);
  const p = await predictor('prod', 'carried');
  assert.deepEqual(p.model, { modelFormat: { name: 'sklearn' }, storageUri: `oci://${image('c')}` });
  assert.equal(p.containers, undefined);
});

test('rollback with no earlier digest recorded exits 3 and says so (real process)', async () => {
  assert.equal((await kiln('deploy', 'prod/fresh', '--image', image('d'))).code, 0);
  const child = spawn(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'rollback', 'prod/fresh'], {
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise((r) => child.on('close', r));
  assert.equal(code, 3, stderr);
  assert.equal(stdout, '');
  assert.match(stderr, /prod\/fresh has no earlier digest recorded by kiln to roll back to/);
  assert.equal((await kserveContainer('prod', 'fresh')).image, image('d'));
});

test('a tag-only image is refused before anything is written (exit 2)', async () => {
  const res = await kiln('--json', 'deploy', 'prod/tagged', '--image', `${REPO}:v7`);
  assert.equal(res.code, 2);
  assert.equal(JSON.parse(res.stdout).error.code, 'IMAGE_NOT_PINNED');
  assert.match(res.stderr, /has no digest: kiln deploys digests only/);
  await assert.rejects(getIsvc(rig, 'prod', 'tagged'), /404/);
});

test('RawDeployment: --canary is refused with exit 3 and nothing changes; a full rollout and rollback work', async () => {
  await applyAs(rig, 'platform-team', {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      namespace: 'prod',
      name: 'raw',
      annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' },
    },
    spec: { predictor: { containers: [{ name: 'kserve-container', image: image('e') }] } },
  });
  const before = (await getIsvc(rig, 'prod', 'raw')).metadata.resourceVersion;
  const canary = await kiln('--json', 'deploy', 'prod/raw', '--image', image('f'), '--canary', '10');
  assert.equal(canary.code, 3);
  assert.equal(JSON.parse(canary.stdout).error.code, 'CANARY_UNSUPPORTED_RAW');
  assert.match(canary.stderr, /RawDeployment mode, where KServe ignores canaryTrafficPercent/);
  assert.equal((await getIsvc(rig, 'prod', 'raw')).metadata.resourceVersion, before);

  assert.equal((await kiln('deploy', 'prod/raw', '--image', image('f'))).code, 0);
  assert.equal((await kserveContainer('prod', 'raw')).image, image('f'));
  assert.equal((await kiln('rollout', 'abort', 'prod/raw')).code, 3);
  const status = JSON.parse((await kiln('--json', 'status', 'prod/raw')).stdout);
  assert.equal(status.deploymentMode, 'RawDeployment');
  assert.equal((await kiln('rollback', 'prod/raw')).code, 0);
  assert.equal((await kserveContainer('prod', 'raw')).image, image('e'));
});

test('--namespace, --context and an unknown InferenceService give clear answers', async () => {
  const missing = await kiln('status', 'nowhere', '--namespace', 'prod');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /InferenceService prod\/nowhere does not exist/);
  const ctx = await kiln('status', 'prod/x', '--context', 'nope');
  assert.equal(ctx.code, 2);
  assert.match(ctx.stderr, /no context named "nope"/);
  const clash = await kiln('status', 'prod/x', '--namespace', 'staging');
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /names namespace prod but --namespace says staging/);
});
