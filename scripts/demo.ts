// kiln's main job on embedded defaults: a local MLflow server with a demo model registered under
// @champion -> `kiln bake` -> a digest-pinned image in an OCI layout directory (./out/demo-image).
// No registry, cluster or base image is needed. Run through scripts/demo (which installs Node 24
// and the Python venv first).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { logSklearnModel, startMlflow } from '../test/rig/mlflow.ts';
import { REPO_ROOT } from '../test/rig/proc.ts';

const out = resolve(process.argv[2] ?? 'out/demo-image');
const say = (s: string): boolean => process.stderr.write(`[demo] ${s}\n`);

say('starting a local MLflow server (sqlite + proxied artifacts in a temp dir)');
const mlflow = await startMlflow();
try {
  say(
    `MLflow at ${mlflow.url}; training and registering demo model "risk-classifier" (scikit-learn, cloudpickle)`,
  );
  const model = await logSklearnModel(mlflow, { name: 'risk-classifier', alias: 'champion' });
  say(`registered risk-classifier version ${model.version} and pointed @champion at it`);
  const args = ['bake', 'models:/risk-classifier@champion', '--to', `oci:${out}`];
  say(`running: kiln ${args.join(' ')}`);
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      env: { ...process.env, MLFLOW_TRACKING_URI: mlflow.url },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('close', (c) => done(c ?? 1));
  });
  if (code !== 0) process.exitCode = code;
  else {
    say(`done: the image is in ${out} (tag v${model.version}). Look inside with:`);
    say(`  skopeo inspect oci:${out}:v${model.version}`);
    say(`  umoci unpack --rootless --image ${out}:v${model.version} /tmp/demo-bundle`);
    say(
      'next: bake onto a serving runtime with --base, push to a registry with --to host/repo, sign with --sign-key',
    );
  }
} finally {
  await mlflow.stop();
}
