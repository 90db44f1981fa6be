// Rollback latency against a real Kubernetes API server (the test rig: etcd +
// apiextensions-apiserver with KServe's CRD). Each rollback is a real change (it toggles between
// two recorded digests): one GET + one server-side apply, as `kiln rollback` does.
//   node bench/rollback.ts [--n 50] [--cli 5] [--before OTHER/dist/cli/main.js]
// --n rollbacks through the library (what `kiln serve` and the promote pipeline pay), then --cli
// rollbacks as a fresh `node dist/cli/main.js rollback` process each, the compiled CLI users run
// (what a person at a terminal pays: process start and module loading included), interleaved with
// a bare `node -e 0`. Targets: a CLI rollback under 400 ms; start-up (process start -> first
// outgoing connection, bench/start-probe.mjs) under 150 ms. On a shared machine read the CPU lines.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKube } from '../src/kserve/client.ts';
import { deployInferenceService, rollback } from '../src/kserve/deploy.ts';
import { startKube } from '../test/rig/kube.ts';
import { REPO_ROOT, run } from '../test/rig/proc.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    cli: { type: 'string', default: '5' },
    before: { type: 'string' },
  },
});
const n = Number(values.n);
const cliRuns = Number(values.cli);

interface Probe {
  wall: number;
  startWall?: number;
  startCpu?: number;
  exitCpu: number;
}

/** Run node with the start-up probe preloaded; wall time measured here, the rest reported by the probe. */
async function probed(args: string[], env: NodeJS.ProcessEnv): Promise<Probe> {
  const t0 = performance.now();
  const { code, err } = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', join(REPO_ROOT, 'bench', 'start-probe.mjs'), ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (c) => resolve({ code: c, err }));
  });
  const wall = performance.now() - t0;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${err}`);
  const line = /KILN_PROBE (.*)/.exec(err)?.[1];
  if (!line) throw new Error(`no probe output from node ${args.join(' ')}: ${err}`);
  return { wall, ...(JSON.parse(line) as Omit<Probe, 'wall'>) };
}

function summary(label: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const f = (x: number) => x.toFixed(1);
  return `${label}: n=${ms.length} p50=${f(at(0.5))} ms p95=${f(at(0.95))} ms max=${f(sorted.at(-1) ?? Number.NaN)} ms`;
}

await run('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT });
const rig = await startKube();
try {
  console.log(`kube rig up in ${rig.startupMs} ms`);
  const env = { ...process.env, KUBECONFIG: rig.kubeconfigPath };
  const kube = await openKube({ env });
  const ref = { namespace: 'bench', name: 'risk-classifier' };
  const image = (c: string) => `127.0.0.1:5000/ml/risk-classifier@sha256:${c.repeat(64)}`;
  await deployInferenceService(kube, {
    ...ref,
    image: image('1'),
    model: { name: 'risk-classifier', version: '1' },
  });
  await deployInferenceService(kube, {
    ...ref,
    image: image('2'),
    model: { name: 'risk-classifier', version: '2' },
  });

  const lib: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const out = await rollback(kube, ref, undefined);
    lib.push(performance.now() - t0);
    if (!out.changed) throw new Error('a rollback changed nothing: the bench would measure a no-op');
  }
  console.log(summary('library rollback (GET + server-side apply)', lib));

  // Each CLI run is interleaved with a bare `node` process (the floor any Node CLI pays), and
  // probed (bench/start-probe.mjs) for its start-up: process start -> first outgoing connection.
  // With --before MAIN_JS (another build's dist/cli/main.js, e.g. an unbundled tsc build of an
  // older commit), its runs are interleaved with this build's, so load on a shared machine hits
  // both alike. `--version` is timed too: the start-up of a command that loads nothing else.
  const builds = [{ label: 'this build', main: join(REPO_ROOT, 'dist/cli/main.js') }];
  if (values.before) builds.push({ label: 'before', main: values.before });
  const cli = builds.map(() => ({ rollback: [] as Probe[], version: [] as Probe[] }));
  const bare: Probe[] = [];
  const rollbackArgs = (main: string) => [main, 'rollback', `${ref.namespace}/${ref.name}`];
  // One untimed run each first: it fills Node's compile cache, as any earlier use of kiln would.
  if (cliRuns > 0) for (const b of builds) await probed(rollbackArgs(b.main), env);
  for (let i = 0; i < cliRuns; i++) {
    for (const [k, b] of builds.entries()) {
      cli[k]!.rollback.push(await probed(rollbackArgs(b.main), env));
      cli[k]!.version.push(await probed([b.main, '--version'], env));
    }
    bare.push(await probed(['-e', '0'], env));
  }
  if (cliRuns > 0) {
    for (const [k, b] of builds.entries()) {
      const { rollback: r, version: v } = cli[k]!;
      const lines: [string, number[]][] = [
        ['CLI rollback, wall (new node process each)', r.map((p) => p.wall)],
        ['CLI rollback, CPU of the process', r.map((p) => p.exitCpu)],
        ['CLI start-up to first connection, wall', r.map((p) => p.startWall ?? Number.NaN)],
        ['CLI start-up to first connection, CPU', r.map((p) => p.startCpu ?? Number.NaN)],
        ['kiln --version, wall', v.map((p) => p.wall)],
        ['kiln --version, CPU of the process', v.map((p) => p.exitCpu)],
      ];
      console.log(`${b.label} (${b.main}):`);
      for (const [label, ms] of lines) console.log(`  ${summary(label, ms)}`);
    }
    console.log(
      summary(
        'bare `node -e 0`, wall (the floor, same run)',
        bare.map((p) => p.wall),
      ),
    );
  }
} finally {
  await rig.stop();
}
