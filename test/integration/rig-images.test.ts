// The rig's base images are real: the scikit-learn runtime serves a KServe V1 predict under
// containerd with the predictions Python gives, and the multi-platform busybox index reaches the
// registry with every platform. (kiln's bake will later put the model INTO the runtime image;
// here the model is bind-mounted, as a PVC would be.)
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ContainerdRig, type RunningContainer, startContainerd } from '../rig/containerd.ts';
import { layoutTop } from '../rig/images/layout.ts';
import {
  BUSYBOX_MULTI_LAYOUT,
  type PushedImage,
  pushBusyboxMulti,
  pushSklearnRuntime,
  SKLEARN_RUNTIME_ENTRYPOINT,
} from '../rig/images.ts';
import { freePort, PYTHON, run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { waitModelReady } from '../rig/serving.ts';

// Trains a small classifier, pickles it with cloudpickle (as mlflow's cloudpickle format does) and
// prints the instances and Python's own predictions for them.
const TRAIN = `
import json, sys, cloudpickle, sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=500).fit(X, y)
with open(sys.argv[1], "wb") as f:
    cloudpickle.dump(model, f)
instances = X[::15].tolist()
print(json.dumps({"sklearn": sklearn.__version__, "instances": instances,
                  "predictions": model.predict(instances).tolist()}))
`;

describe('sklearn runtime image', () => {
  let registry: RegistryRig;
  let containerd: ContainerdRig;
  let runtime: PushedImage;
  let modelDir: { path: string; remove: () => Promise<void> };
  let expected: { sklearn: string; instances: number[][]; predictions: number[] };
  let server: RunningContainer | undefined;

  before(async () => {
    registry = await startRegistry();
    containerd = await startContainerd();
    runtime = await pushSklearnRuntime(registry);
    await containerd.pull(runtime.ref);
    modelDir = await tempDir('model');
    // The runtime runs as uid 1000: the mounted model must be world-readable (mkdtemp makes 0700).
    await chmod(modelDir.path, 0o755);
    const modelFile = join(modelDir.path, 'model.pkl');
    expected = JSON.parse((await run(PYTHON, ['-c', TRAIN, modelFile])).stdout);
    await chmod(modelFile, 0o644);
  });
  after(async () => {
    await server?.stop();
    await containerd?.stop();
    await registry?.stop();
    await modelDir?.remove();
  });

  it('runs as uid 1000 with no args of its own beyond the KServe defaults', async () => {
    const { config } = await containerd.imageConfig(runtime.ref);
    assert.equal(config?.User, '1000');
    assert.deepEqual(config?.Entrypoint, SKLEARN_RUNTIME_ENTRYPOINT);
    assert.deepEqual(config?.Cmd, ['--model_dir=/mnt/models', '--http_port=8080']);
  });

  it('has the scikit-learn version the fixture model is trained with', async () => {
    const res = await containerd.run(runtime.ref, [
      'python3',
      '-c',
      'import sklearn; print(sklearn.__version__)',
    ]);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stdout.trim(), expected.sklearn);
  });

  it('answers a V1 predict with the predictions the model gives in Python', async () => {
    const httpPort = await freePort();
    const grpcPort = await freePort(); // the kserve SDK also listens on gRPC (8081 by default)
    const started = Date.now();
    server = await containerd.runDetached(runtime.ref, 'sklearn-server', undefined, {
      mounts: [{ src: modelDir.path, dst: '/mnt/models', readonly: true }],
      args: ['--model_dir=/mnt/models', `--http_port=${httpPort}`, `--grpc_port=${grpcPort}`],
    });
    const base = `http://127.0.0.1:${httpPort}`;
    await waitModelReady(`${base}/v1/models/model`, server);
    const startSeconds = (Date.now() - started) / 1000;
    const res = await fetch(`${base}/v1/models/model:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: expected.instances }),
    });
    assert.equal(res.status, 200, await server.logTail());
    assert.deepEqual(await res.json(), { predictions: expected.predictions });
    // The server process itself runs as the image's user.
    const uid = await processUid(containerd, 'sklearn-server');
    assert.equal(uid, 1000);
    process.stderr.write(`# sklearn runtime: ready ${startSeconds.toFixed(1)} s after start\n`);
  });
});

describe('busybox multi-platform index', () => {
  let registry: RegistryRig;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  it('reaches the registry as an index with amd64, arm64 and an attestation entry', async () => {
    const pushed = await pushBusyboxMulti(registry);
    assert.equal(pushed.digest, (await layoutTop(BUSYBOX_MULTI_LAYOUT)).digest);
    const raw = JSON.parse(
      (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${pushed.ref}`])).stdout,
    );
    assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
    const platforms = raw.manifests.map(
      (m: { platform: { os: string; architecture: string } }) =>
        `${m.platform.os}/${m.platform.architecture}`,
    );
    assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64', 'unknown/unknown']);
    for (const arch of ['amd64', 'arm64']) {
      const img = JSON.parse(
        (
          await run('skopeo', [
            'inspect',
            '--override-arch',
            arch,
            '--tls-verify=false',
            `docker://${pushed.ref}`,
          ])
        ).stdout,
      );
      assert.equal(img.Architecture, arch);
      assert.equal(img.Os, 'linux');
    }
  });
});

async function processUid(containerd: ContainerdRig, id: string): Promise<number> {
  const { stdout } = await run('ctr', ['-a', containerd.socket, '-n', containerd.namespace, 'tasks', 'ls']);
  const pid = new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(stdout)?.[1];
  assert.ok(pid, `no task ${id} in:\n${stdout}`);
  const status = await run('cat', [`/proc/${pid}/status`]);
  return Number(/^Uid:\s+(\d+)/m.exec(status.stdout)?.[1]);
}
