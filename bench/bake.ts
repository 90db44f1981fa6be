// bench/bake: kiln bake of incompressible random models (like real weights) from a real MLflow
// server into a real registry, beside buildah (Debian, vfs driver) doing the same bake from the
// same files in the same run. Prints MB/s (model bytes / wall time) and peak RSS (GNU time %M).
//   node bench/bake.ts [--sizes 1,4] [--compressions none,zstd,gzip] [--no-buildah]
// Run after `. scripts/lib.sh`; builds dist/ first (users run the compiled CLI, not the .ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoggedFixture, logModels, startMlflow } from '../test/rig/mlflow.ts';
import { REPO_ROOT, run, tempDir } from '../test/rig/proc.ts';
import { startRegistry } from '../test/rig/registry.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,4' },
    compressions: { type: 'string', default: 'none,zstd,gzip' },
    'no-buildah': { type: 'boolean', default: false },
  },
});
const GiB = 1 << 30;
const sizes = values.sizes.split(',').map(Number);
const compressions = values.compressions.split(',') as Array<'none' | 'zstd' | 'gzip'>;

interface Measure {
  seconds: number;
  peakMiB: number;
}

/** Run a command under GNU time; returns wall seconds and the peak RSS of the process tree's largest member. */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measure> {
  const started = process.hrtime.bigint();
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'KILN_BENCH %M', cmd, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (code) =>
      code === 0
        ? resolve(err)
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err.slice(-3000)}`)),
    );
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const kb = Number(/KILN_BENCH (\d+)/.exec(out)?.[1] ?? 0);
  return { seconds, peakMiB: kb / 1024 };
}

process.stderr.write('building dist/ ...\n');
await run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT });
const [mlflow, registry, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('bench-bake')]);
const rows: string[] = [];
try {
  process.stderr.write(`making random models of ${sizes.join(', ')} GiB in MLflow ...\n`);
  const models = (await logModels(
    mlflow,
    sizes.map((s) => ({ name: `bench-${s}g`, sizeBytes: s * GiB, seed: `bench-${s}` })),
  )) as LoggedFixture[];
  const env = { ...process.env, MLFLOW_TRACKING_URI: mlflow.url };
  const kilnMain = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  for (const [i, size] of sizes.entries()) {
    const model = models[i]!;
    const bytes = model.files.reduce((n, f) => n + f.size, 0);
    for (const c of compressions) {
      const k = await timed(
        process.execPath,
        [
          kilnMain,
          'bake',
          `models:/${model.name}/${model.version}`,
          '--to',
          `${registry.host}/bench/kiln-${size}g`,
          '--compression',
          c,
          '--tag',
          `kiln-${c}`,
        ],
        env,
      );
      let b: Measure | undefined;
      if (!values['no-buildah']) b = await buildahBake(model, size, c);
      const mbs = (m: Measure): number => bytes / 1e6 / m.seconds;
      rows.push(
        [
          `${size} GiB`,
          c.padEnd(4),
          `kiln ${mbs(k).toFixed(0).padStart(5)} MB/s ${k.seconds.toFixed(1).padStart(6)} s peak ${k.peakMiB.toFixed(0).padStart(4)} MiB`,
          b
            ? `buildah ${mbs(b).toFixed(0).padStart(5)} MB/s ${b.seconds.toFixed(1).padStart(6)} s peak ${b.peakMiB.toFixed(0).padStart(4)} MiB`
            : '',
          b ? `ratio ${(b.seconds / k.seconds).toFixed(2)}x` : '',
        ].join('  '),
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
} finally {
  await Promise.all([mlflow.stop(), registry.stop()]);
  await work.remove();
}
process.stdout.write(
  `\nkiln bake vs buildah (vfs), random weights from MLflow into docker-registry 2.8.2 on loopback\n${rows.join('\n')}\n`,
);

/** buildah's version of the same bake: from scratch, copy the model dir to /mnt/models, commit, push. */
async function buildahBake(model: LoggedFixture, size: number, c: string): Promise<Measure> {
  const root = join(work.path, `buildah-${size}-${c}`);
  const script = [
    'set -e',
    `B="buildah --storage-driver vfs --root ${root}/root --runroot ${root}/run"`,
    'ctr=$($B from scratch)',
    `$B copy --chmod 0644 "$ctr" ${model.modelDir}/ /mnt/models/`,
    `$B config --env MODEL_NAME=${model.name} --env MODEL_VERSION=${model.version} "$ctr"`,
    `$B commit --quiet "$ctr" bench-${size}-${c} >/dev/null`,
    `$B push --quiet --tls-verify=false ${c === 'none' ? '--disable-compression' : `--compression-format ${c}`} bench-${size}-${c} docker://${registry.host}/bench/buildah-${size}g:${c}`,
  ].join('\n');
  try {
    return await timed('bash', ['-c', script], process.env);
  } finally {
    await run('rm', ['-rf', root]).catch(() => undefined);
  }
}
