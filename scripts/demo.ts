// kiln's main job on embedded defaults, end to end: a local MLflow server with a demo model under
// @champion -> `kiln bake` onto a scikit-learn serving runtime -> a digest-pinned image in an OCI
// layout (out/demo/image) -> the same image pushed to a local registry (same digest), pulled and
// run by containerd, answering a KServe V1 prediction. Run through scripts/demo, which installs
// what is needed first. Re-runnable: MLflow's state is kept in out/demo/mlflow, so a second run
// finds the same model version and kiln's bake is a no-op with the same digest.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startContainerd } from '../test/rig/containerd.ts';
import { SKLEARN_RUNTIME_LAYOUT } from '../test/rig/images.ts';
import { logSklearnModel, startMlflow } from '../test/rig/mlflow.ts';
import { freePort, REPO_ROOT } from '../test/rig/proc.ts';
import { startRegistry } from '../test/rig/registry.ts';
import { predict, waitModelReady } from '../test/rig/serving.ts';

const HELP = `usage: ./scripts/demo [--out DIR] [--no-serve]

kiln's main job end to end, on embedded defaults (no registry, cluster or Docker needed):
  1. a local MLflow server (state kept in DIR/mlflow) with a scikit-learn model at @champion
  2. kiln bake models:/risk-classifier@champion onto a scikit-learn serving runtime
     -> a digest-pinned image in the OCI layout DIR/image
  3. the same bake into a local registry (same digest), pulled and run by containerd,
     answering a KServe V1 prediction (needs root, containerd and runc; skipped with the
     reason and the command to run otherwise)
Runs any number of times: later runs reuse the model version and print the same digest.

  --out DIR    where the demo keeps its state (default: out/demo)
  --no-serve   stop after step 2
  -h, --help   this text
`;

const args = process.argv.slice(2);
let out = 'out/demo';
let serve = true;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-h' || a === '--help') {
    process.stdout.write(HELP);
    process.exit(0);
  } else if (a === '--out' && args[i + 1]) out = args[++i]!;
  else if (a === '--no-serve') serve = false;
  else {
    process.stderr.write(`demo: unknown argument "${a}"\n\n${HELP}`);
    process.exit(2);
  }
}
const state = resolve(out);
const say = (s: string): boolean => process.stderr.write(`[demo] ${s}\n`);
const MODEL = 'risk-classifier';

function kiln(kargs: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  say(`$ kiln ${kargs.join(' ')}`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, 'src/cli/main.ts'), ...kargs], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.on('close', (c) => done({ code: c ?? 1, stdout: stdout.trim() }));
  });
}

/** Why the image cannot be run here, or undefined when it can. */
function cannotServe(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'running containers without a Docker engine needs root (containerd + runc)';
  for (const tool of ['containerd', 'ctr', 'runc', 'docker-registry']) {
    const found = (process.env['PATH'] ?? '').split(':').some((d) => existsSync(join(d, tool)));
    if (!found) return `${tool} is not installed (./scripts/setup apt installs it)`;
  }
  return undefined;
}

class DemoFailed extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`kiln exited ${code}`);
    this.code = code;
  }
}

async function runtimeBase(): Promise<string> {
  if (!existsSync(join(SKLEARN_RUNTIME_LAYOUT, 'index.json'))) {
    throw new Error(
      `the scikit-learn runtime image is not built (${SKLEARN_RUNTIME_LAYOUT}): run ./scripts/setup images (as root; it uses debootstrap)`,
    );
  }
  const index = JSON.parse(await readFile(join(SKLEARN_RUNTIME_LAYOUT, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>;
  };
  // Pinned by digest, as a real deployment's base should be.
  return `oci:${SKLEARN_RUNTIME_LAYOUT}@${index.manifests[0]!.digest}`;
}

say(`starting a local MLflow server (state in ${join(state, 'mlflow')})`);
const mlflow = await startMlflow({ dir: join(state, 'mlflow') });
const stops: Array<() => Promise<void>> = [() => mlflow.stop()];
try {
  const env = { MLFLOW_TRACKING_URI: mlflow.url };
  const samplePath = join(state, 'sample.json');
  let sample: { instances: number[][]; predictions: number[] };
  if (existsSync(samplePath)) {
    sample = JSON.parse(await readFile(samplePath, 'utf8')) as typeof sample;
    say(`MLflow at ${mlflow.url} already holds ${MODEL}@champion (from an earlier run)`);
  } else {
    say(`MLflow at ${mlflow.url}; training and registering "${MODEL}" (scikit-learn iris classifier)`);
    const model = await logSklearnModel(mlflow, { name: MODEL, alias: 'champion' });
    sample = model.sample;
    await writeFile(samplePath, JSON.stringify(sample));
    say(`registered ${MODEL} version ${model.version} and pointed @champion at it`);
  }

  const base = await runtimeBase();
  const layout = join(state, 'image');
  const baked = await kiln(
    ['bake', `models:/${MODEL}@champion`, '--to', `oci:${layout}`, '--base', base],
    env,
  );
  if (baked.code !== 0) throw new DemoFailed(baked.code);
  process.stdout.write(`${baked.stdout}\n`);
  say(`the image is in ${layout}: the model's files under /mnt/models on the serving runtime`);

  const why = serve ? cannotServe() : 'skipped (--no-serve)';
  if (why) {
    say(`not serving the image: ${why}.`);
    say('to see it answer a prediction, run as root on a machine with containerd: ./scripts/demo');
    say(
      `or push it to your registry and run it anywhere: skopeo copy oci:${layout}:v1 docker://REGISTRY/risk-classifier:v1`,
    );
  } else {
    say('serving it: a local registry + containerd (what a KServe node does with the image)');
    const [registry, ctrd] = await Promise.all([startRegistry(), startContainerd()]);
    stops.push(
      () => registry.stop(),
      () => ctrd.stop(),
    );
    const pushed = await kiln(
      ['bake', `models:/${MODEL}@champion`, '--to', `${registry.host}/demo/${MODEL}`, '--base', base],
      env,
    );
    if (pushed.code !== 0) throw new DemoFailed(pushed.code);
    const same = pushed.stdout.split('@')[1] === baked.stdout.split('@')[1];
    say(
      `pushed ${pushed.stdout}${same ? ' (the same digest as the layout: the digest is the model version)' : ''}`,
    );
    await ctrd.pull(pushed.stdout);
    const [http, grpc] = [await freePort(), await freePort()];
    // The arguments KServe's controller gives a runtime container.
    const server = await ctrd.runDetached(pushed.stdout, `demo-${process.pid}`, undefined, {
      args: [
        '--model_dir=/mnt/models',
        `--model_name=${MODEL}`,
        `--http_port=${http}`,
        `--grpc_port=${grpc}`,
      ],
      user: '1000',
    });
    stops.push(() => server.stop());
    const url = `http://127.0.0.1:${http}`;
    await waitModelReady(`${url}/v1/models/${MODEL}`, server);
    const answer = await predict(url, MODEL, sample.instances);
    say(`POST ${url}/v1/models/${MODEL}:predict {"instances": ${JSON.stringify(sample.instances)}}`);
    say(`-> ${answer.status} ${JSON.stringify(answer.body)}`);
    const expected = JSON.stringify({ predictions: sample.predictions });
    if (answer.status !== 200 || JSON.stringify(answer.body) !== expected) {
      say(`expected ${expected} (what the model answers in Python)`);
      process.exitCode = 1;
    } else {
      say('the baked image answers exactly what the model answers in Python, with no MLflow in the path');
    }
  }
  say('run ./scripts/demo again: same model version, same digest; the layout bake is a no-op');
} catch (e) {
  // kiln already said what failed; anything else is the demo's own problem.
  if (e instanceof DemoFailed) process.exitCode = e.code;
  else {
    say(`failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
