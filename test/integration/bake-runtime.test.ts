// The product's point, proven on real parts: the baked image alone serves the model. A runtime
// base (Debian + python + scikit-learn + kserve SDK, built locally) plus kiln's model layer runs
// under containerd as uid 1000 and answers KServe V1 predictions equal to the model's in Python.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { type ContainerdRig, type RunningContainer, startContainerd } from '../rig/containerd.ts';
import { type PushedImage, pushSklearnRuntime } from '../rig/images.ts';
import { logSklearnModel, type MlflowRig, type SklearnFixture, startMlflow } from '../rig/mlflow.ts';
import { freePort } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { predict, waitModelReady } from '../rig/serving.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let ctrd: ContainerdRig;
let fixture: SklearnFixture;
let runtime: PushedImage;
let server: RunningContainer | undefined;

before(async () => {
  [mlflow, registry, ctrd] = await Promise.all([startMlflow(), startRegistry(), startContainerd()]);
  [fixture, runtime] = await Promise.all([
    logSklearnModel(mlflow, { name: 'risk-classifier', alias: 'champion' }),
    pushSklearnRuntime(registry),
  ]);
});

after(async () => {
  await server?.stop();
  await Promise.all([mlflow?.stop(), registry?.stop(), ctrd?.stop()]);
});

test('a model baked onto the sklearn runtime answers V1 predictions equal to the model in Python', async () => {
  const res = await kiln(
    [
      'bake',
      'models:/risk-classifier@champion',
      '--to',
      `${registry.host}/ml/risk-classifier`,
      '--base',
      runtime.ref,
    ],
    {
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url }),
    },
  );
  assert.equal(res.code, 0, res.stderr);
  const ref = res.stdout.trim();
  await ctrd.pull(ref);
  const [http, grpc] = [await freePort(), await freePort()];
  // What KServe's controller passes to a runtime container: the model name and where it lives.
  server = await ctrd.runDetached(ref, 'baked-iris', undefined, {
    args: [
      '--model_dir=/mnt/models',
      '--model_name=risk-classifier',
      `--http_port=${http}`,
      `--grpc_port=${grpc}`,
    ],
  });
  const base = `http://127.0.0.1:${http}`;
  await waitModelReady(`${base}/v1/models/risk-classifier`, server);
  const answer = await predict(base, 'risk-classifier', fixture.sample.instances);
  assert.equal(answer.status, 200, await server.logTail());
  assert.deepEqual(answer.body, { predictions: fixture.sample.predictions });
});
