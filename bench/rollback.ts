// Rollback latency against a real Kubernetes API server (the test rig: etcd +
// apiextensions-apiserver with KServe's CRD). Each rollback is a real change (it toggles between
// two recorded digests): one GET + one server-side apply, as `kiln rollback` does.
//   node bench/rollback.ts [--n 50] [--cli 5]
// --n rollbacks through the library (what `kiln serve` and the promote pipeline pay), then --cli
// rollbacks as a fresh `node dist/cli/main.js rollback` process each, the compiled CLI users run
// (what a person at a terminal pays: process start and module loading included). Target: under 1 s.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKube } from '../src/kserve/client.ts';
import { deployInferenceService, rollback } from '../src/kserve/deploy.ts';
import { startKube } from '../test/rig/kube.ts';
import { REPO_ROOT, run } from '../test/rig/proc.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '50' }, cli: { type: 'string', default: '5' } },
});
const n = Number(values.n);
const cliRuns = Number(values.cli);

function summary(label: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const f = (x: number) => x.toFixed(1);
  return `${label}: n=${ms.length} p50=${f(at(0.5))} ms p95=${f(at(0.95))} ms max=${f(sorted.at(-1) ?? Number.NaN)} ms`;
}

await run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT });
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

  const cli: number[] = [];
  for (let i = 0; i < cliRuns; i++) {
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(
        process.execPath,
        [join(REPO_ROOT, 'dist/cli/main.js'), 'rollback', `${ref.namespace}/${ref.name}`],
        {
          env,
          stdio: 'ignore',
        },
      );
      p.on('close', resolve);
    });
    cli.push(performance.now() - t0);
    if (code !== 0) throw new Error(`kiln rollback exited ${code}`);
  }
  if (cliRuns > 0) console.log(summary('CLI rollback (new node process each)', cli));
} finally {
  await rig.stop();
}
