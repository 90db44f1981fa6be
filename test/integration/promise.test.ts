// kiln's core promise, demonstrated on real parts: a promoted image serves with MLflow gone.
// Beside it, the anti-pattern (a container that fetches the model from MLflow at start-up) works
// only while MLflow is up, and fails to start once it is down.
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { type ContainerdRig, startContainerd } from '../rig/containerd.ts';
import { type PushedImage, pushSklearnRuntime } from '../rig/images.ts';
import { logSklearnModel, type MlflowRig, type SklearnFixture, startMlflow } from '../rig/mlflow.ts';
import { freePort, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { predict, waitModelReady } from '../rig/serving.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let ctrd: ContainerdRig;
let runtime: PushedImage;
let fixture: SklearnFixture;
let promoted: string;
let work: { path: string; remove: () => Promise<void> };

before(async () => {
  [mlflow, registry, ctrd, work] = await Promise.all([
    startMlflow(),
    startRegistry(),
    startContainerd(),
    tempDir('promise'),
  ]);
  [fixture, runtime] = await Promise.all([
    logSklearnModel(mlflow, { name: 'risk', alias: 'champion' }),
    pushSklearnRuntime(registry),
  ]);
  const res = await kiln(
    ['promote', 'models:/risk@champion', '--to', `${registry.host}/ml/risk`, '--base', runtime.ref],
    {
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }),
      cwd: work.path,
    },
  );
  assert.equal(res.code, 0, res.stderr);
  promoted = res.stdout.trim();
  await Promise.all([ctrd.pull(promoted), ctrd.pull(runtime.ref)]);
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop(), ctrd?.stop()]);
  await work?.remove();
});

/** Start a model server container and ask it for predictions; resolves to the HTTP status, or throws if it never gets ready. */
async function serveAndPredict(
  id: string,
  ref: string,
  opts: { cmd?: string[]; args?: string[] },
  port: number,
): Promise<number> {
  const c = await ctrd.runDetached(ref, id, opts.cmd, opts.args ? { args: opts.args } : {});
  try {
    await waitModelReady(`http://127.0.0.1:${port}/v1/models/risk`, c, 90_000);
    const answer = await predict(`http://127.0.0.1:${port}`, 'risk', fixture.sample.instances);
    assert.deepEqual(answer.body, { predictions: fixture.sample.predictions });
    return answer.status;
  } finally {
    await c.stop();
  }
}

const bakedArgs = async () => {
  const port = await freePort();
  return {
    port,
    args: [
      '--model_dir=/mnt/models',
      '--model_name=risk',
      `--http_port=${port}`,
      `--grpc_port=${await freePort()}`,
    ],
  };
};

/** The anti-pattern: the runtime image fetches model.pkl from MLflow when the container starts. */
const fetchingCmd = async () => {
  const port = await freePort();
  const path = relative(join(mlflow.dir, 'artifacts'), fixture.modelDir);
  const url = `${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${path}/model.pkl`;
  const script = [
    'mkdir -p /tmp/model',
    `python3 -c "import urllib.request; urllib.request.urlretrieve('${url}', '/tmp/model/model.pkl')"`,
    `exec python3 /opt/kiln-runtime/sklearn_server.py --model_dir=/tmp/model --model_name=risk --http_port=${port} --grpc_port=${await freePort()}`,
  ].join(' && ');
  return { port, cmd: ['sh', '-c', script] };
};

test('the promoted image serves; so does the MLflow-fetching container while MLflow is up', async () => {
  const baked = await bakedArgs();
  assert.equal(await serveAndPredict('baked-1', promoted, { args: baked.args }, baked.port), 200);
  const fetching = await fetchingCmd();
  assert.equal(await serveAndPredict('fetching-1', runtime.ref, { cmd: fetching.cmd }, fetching.port), 200);
});

test('with MLflow stopped, a fresh container of the promoted image still starts and answers; the fetching one fails', async () => {
  await mlflow.stop();
  const baked = await bakedArgs();
  assert.equal(await serveAndPredict('baked-2', promoted, { args: baked.args }, baked.port), 200);
  const fetching = await fetchingCmd();
  await assert.rejects(
    serveAndPredict('fetching-2', runtime.ref, { cmd: fetching.cmd }, fetching.port),
    /server exited [1-9]/,
  );
});
