// bench/bake: kiln bake of incompressible random models (like real weights) from a real MLflow
// server into a real registry, measured against the pipe limit and beside crane and buildah, all
// in the same run and interleaved (pipe, kiln, crane, buildah, then again for each --repeat), so a
// busy machine slows every tool alike and the ratios stay comparable.
//   node bench/bake.ts [--sizes 1,4] [--compressions none,zstd,gzip] [--repeat 1]
//                      [--no-buildah] [--no-crane]
// The pipe limit: the same bytes streamed from MLflow's artifact route straight into a registry
// upload by curl (POST a session, `curl ... | curl -X PATCH -T -`, then PUT ?digest=), with no tar,
// no hashing and no image work; for gzip the pipe runs through `pigz -1 -n` (the same level kiln
// uses), the parallel-gzip yardstick. Every tool is printed as a ratio to that pipe (pipe time /
// tool time: 1.00 = as fast as the pipe). crane: `crane append -f model.tar` onto scratch (a tar
// of the same files from local disk, made beforehand and not timed; crane always gzips, so it is
// measured in the gzip rows only). buildah (vfs): from scratch + copy + config + commit + push of
// the same files from local disk. crane and buildah do NOT pay the MLflow download kiln pays.
// The floor (none and zstd rows, bench/floor.ts): the pipe's stream in the simplest node program
// that also computes the digests any image of these bytes needs (the file's sha256 and the layer's;
// zstd: plus level-1 zstd and the blob's sha256). The pipe against the floor is what those digests
// cost on this machine; kiln against the floor is what the rest of kiln's work (tar, scan, progress,
// image, checks) costs: 1.00 or more means nothing measurable.
// Run after `. scripts/lib.sh`; builds dist/ first (users run the compiled CLI, not the .ts).

import { readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoggedFixture, logModels, type MlflowRig, startMlflow } from '../test/rig/mlflow.ts';
import { REPO_ROOT, run, tempDir, toolPath } from '../test/rig/proc.ts';
import { type RegistryRig, startRegistry } from '../test/rig/registry.ts';
import { groupCpuSeconds, type Measure, timed } from './time.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,4' },
    compressions: { type: 'string', default: 'none,zstd,gzip' },
    repeat: { type: 'string', default: '1' },
    'no-buildah': { type: 'boolean', default: false },
    'no-crane': { type: 'boolean', default: false },
  },
});
const GiB = 1 << 30;
const sizes = values.sizes.split(',').map(Number);
const compressions = values.compressions.split(',') as Compression[];
const repeats = Math.max(1, Number(values.repeat));
type Compression = 'none' | 'zstd' | 'gzip';
type Tool = 'pipe' | 'floor' | 'kiln' | 'crane' | 'buildah';
/** A run, with the CPU the two servers spent during it (they share the machine's cores with the tool). */
interface Run extends Measure {
  mlflowCpu: number;
  registryCpu: number;
}
const CORES = availableParallelism();

process.stderr.write('building dist/ ...\n');
await run('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT });
const [mlflow, registry, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('bench-bake')]);
const lines: string[] = [];
const cpuLines: string[] = [];
try {
  process.stderr.write(`making random models of ${sizes.join(', ')} GiB in MLflow ...\n`);
  const models = (await logModels(
    mlflow,
    sizes.map((s) => ({ name: `bench-${s}g`, sizeBytes: s * GiB, seed: `bench-${s}` })),
  )) as LoggedFixture[];
  for (const [i, size] of sizes.entries()) {
    const model = models[i]!;
    const bytes = model.files.reduce((n, f) => n + f.size, 0);
    const tar = join(work.path, `model-${size}g.tar`);
    if (!values['no-crane'] && compressions.includes('gzip')) {
      await run('tar', ['--sort=name', '-C', model.modelDir, '-cf', tar, '.']);
    }
    for (const c of compressions) {
      const pipeDigest = c === 'gzip' ? await pigzDigest(model) : `sha256:${weights(model).sha256}`;
      const all: Record<Tool, Run[]> = { pipe: [], floor: [], kiln: [], crane: [], buildah: [] };
      const failed: Partial<Record<Tool, string>> = {};
      /** A peer that fails (e.g. buildah out of disk) is reported as failed; the bench goes on. */
      const peer = async (t: Tool, fn: () => Promise<Measure>) => {
        if (failed[t]) return;
        try {
          all[t].push(await observed(fn));
        } catch (e) {
          failed[t] = /exited \d+/.exec(String(e))?.[0] ?? String(e).split('\n')[0];
          process.stderr.write(`  ${t} failed: ${String(e).slice(-600)}\n`);
        }
      };
      for (let r = 0; r < repeats; r++) {
        const tag = `${c}-${r}`;
        all.pipe.push(await observed(() => pipeBake(mlflow, registry, model, size, c, pipeDigest)));
        if (c !== 'gzip') all.floor.push(await observed(() => floorBake(mlflow, registry, model, size, c)));
        all.kiln.push(await observed(() => kilnBake(model, size, c, tag)));
        if (!values['no-crane'] && c === 'gzip') await peer('crane', () => craneBake(tar, size, tag));
        if (!values['no-buildah']) await peer('buildah', () => buildahBake(model, size, c, tag));
        process.stderr.write(`  ${size} GiB ${c} run ${r + 1}/${repeats}: ${runLine(all, r)}\n`);
      }
      lines.push(row(size, c, bytes, all, failed));
      cpuLines.push(cpuRow(size, c, all));
      process.stderr.write(`${lines.at(-1)}\n${cpuLines.at(-1)}\n`);
    }
  }
} finally {
  await Promise.all([mlflow.stop(), registry.stop()]);
  await work.remove();
  report(); // what was measured, even when a run failed
}

function report(): void {
  process.stdout.write(
    [
      '',
      `kiln bake vs the pipe limit, crane ${'(gzip only)'} and buildah (vfs): random weights from MLflow into docker-registry 2.8.2 on loopback`,
      `ratio = pipe time / tool time (1.00 = as fast as the pipe); median of ${repeats} interleaved run(s), [min-max] when repeated`,
      `pipe = curl MLflow artifact route | curl -X PATCH -T - (gzip rows: | pigz -1 -n |), then PUT ?digest`,
      `floor = the same stream in one node process with only the digests an image needs (bench/floor.ts); "kiln ... = X of floor": floor time / kiln time`,
      ...lines,
      '',
      `CPU seconds per run (median): the tool (with its children) / MLflow / registry, and busy = all three / (wall x ${CORES} cores).`,
      'The three share the cores: a tool that spends more CPU than curl leaves less for the servers.',
      ...cpuLines,
      '',
    ].join('\n'),
  );
}

/** One run, with what MLflow and the registry spent meanwhile (their process groups, from /proc). */
async function observed(fn: () => Promise<Measure>): Promise<Run> {
  // Dirty pages from the models just logged (4 GiB take ~20 s to write back here) or from the
  // previous run are flushed first: writeback would otherwise slow whichever run came first.
  await run('sync', []);
  const groups = [mlflow.service.proc.pid, registry.service.proc.pid].map((p) => p ?? -1);
  const before = groups.map(groupCpuSeconds);
  try {
    const m = await fn();
    const [ml, reg] = groups.map((g, i) => groupCpuSeconds(g) - before[i]!);
    return { ...m, mlflowCpu: ml!, registryCpu: reg! };
  } finally {
    await freeRegistryDisk();
  }
}

/**
 * Every run pushes a full copy of the model, and distribution reclaims blob space only by an
 * offline garbage-collect: 4 tools x 3 compressions x 4 GiB filled the disk (buildah failed).
 * The layer blobs (> 64 MiB) are deleted from the registry's storage after each run; the rig
 * configures no blob cache, so a later HEAD sees them gone and nothing is skipped.
 */
async function freeRegistryDisk(): Promise<void> {
  const root = join(registry.dir, 'data', 'docker', 'registry', 'v2', 'blobs');
  for (const entry of await readdir(root, { recursive: true }).catch(() => [] as string[])) {
    if (!entry.endsWith('/data')) continue;
    const file = join(root, entry);
    if ((await stat(file)).size > 64 << 20) await rm(file);
  }
}

function cpuRow(size: number, c: Compression, all: Record<Tool, Run[]>): string {
  const cells = [`${size} GiB ${c.padEnd(4)}`];
  for (const t of ['pipe', 'floor', 'kiln', 'crane', 'buildah'] as const) {
    const rs = all[t];
    if (rs.length === 0) continue;
    const med = (f: (r: Run) => number) => median(rs.map(f));
    const busy = med((r) => (r.cpuSeconds + r.mlflowCpu + r.registryCpu) / (r.seconds * CORES));
    cells.push(
      `${t} ${med((r) => r.cpuSeconds).toFixed(1)} / ${med((r) => r.mlflowCpu).toFixed(1)} / ${med((r) => r.registryCpu).toFixed(1)} busy ${busy.toFixed(2)}`,
    );
  }
  return cells.join('  |  ');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function runLine(all: Record<Tool, Run[]>, r: number): string {
  const pipe = all.pipe[r]!.seconds;
  return (['pipe', 'floor', 'kiln', 'crane', 'buildah'] as const)
    .filter((t) => all[t][r])
    .map((t) => `${t} ${all[t][r]!.seconds.toFixed(1)} s (${(pipe / all[t][r]!.seconds).toFixed(2)})`)
    .join('  ');
}

function row(
  size: number,
  c: Compression,
  bytes: number,
  all: Record<Tool, Run[]>,
  failed: Partial<Record<Tool, string>>,
): string {
  const pipeS = median(all.pipe.map((m) => m.seconds));
  const cells = [
    `${size} GiB ${c.padEnd(4)}`,
    `pipe ${(bytes / 1e6 / pipeS).toFixed(0).padStart(4)} MB/s ${pipeS.toFixed(1)} s`,
  ];
  for (const t of ['floor', 'kiln', 'crane', 'buildah'] as const) {
    const ms = all[t];
    if (failed[t]) cells.push(`${t} failed (${failed[t]})${ms.length ? ` after ${ms.length} run(s)` : ''}`);
    if (ms.length === 0 || failed[t]) continue;
    // Ratios per run (each against the pipe of the same run), so a slow spell hits both sides.
    const ratios = ratioText(ms.map((m, r) => all.pipe[r]!.seconds / m.seconds));
    const secs = median(ms.map((m) => m.seconds));
    const peak = Math.max(...ms.map((m) => m.peakMiB));
    // kiln against the floor of the same run: what kiln's own work (tar, image, checks) costs.
    const floor =
      t === 'kiln' && all.floor.length === ms.length
        ? ` = ${ratioText(ms.map((m, r) => all.floor[r]!.seconds / m.seconds))} of floor`
        : '';
    cells.push(
      `${t} ${ratios} ${secs.toFixed(1)} s${t === 'kiln' ? ` peak ${peak.toFixed(0)} MiB${floor}` : ''}`,
    );
  }
  return cells.join('  |  ');
}

/** Per-run ratios as `median [min-max]` (the range only when there was more than one run). */
function ratioText(ratios: number[]): string {
  const spread =
    ratios.length > 1 ? ` [${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}]` : '';
  return `${median(ratios).toFixed(2)}${spread}`;
}

function kilnBake(model: LoggedFixture, size: number, c: Compression, tag: string): Promise<Measure> {
  const env = { ...process.env, MLFLOW_TRACKING_URI: mlflow.url };
  const args = [
    'bake',
    `models:/${model.name}/${model.version}`,
    '--to',
    `${registry.host}/bench/kiln-${size}g`,
  ];
  return timed(
    process.execPath,
    [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args, '--compression', c, '--tag', tag],
    { env },
  );
}

/** The model's weights file: the pipe streams it alone (MLmodel and friends are a few hundred bytes). */
function weights(model: LoggedFixture): { path: string; sha256: string } {
  const f = model.files.find((x) => x.path === 'model.pkl');
  if (!f) throw new Error(`${model.name} has no model.pkl`);
  return f;
}

/** The digest `pigz -1 -n` gives the model file (deterministic: no name, no time), computed untimed. */
async function pigzDigest(model: LoggedFixture): Promise<string> {
  const file = join(model.modelDir, weights(model).path);
  const { stdout } = await run('bash', ['-c', `pigz -1 -n -c < '${file}' | sha256sum`]);
  return `sha256:${stdout.split(' ')[0]}`;
}

/** The pipe limit: MLflow's artifact route piped into ONE registry upload session, nothing else. */
function pipeBake(
  m: MlflowRig,
  reg: RegistryRig,
  model: LoggedFixture,
  size: number,
  c: Compression,
  digest: string,
): Promise<Measure> {
  const path = relative(join(m.dir, 'artifacts'), join(model.modelDir, weights(model).path));
  const source = `${m.url}/api/2.0/mlflow-artifacts/artifacts/${path}`;
  const repo = `bench/pipe-${size}g`;
  const script = [
    'set -euo pipefail',
    `loc=$(curl -sSf -o /dev/null -w '%header{location}' -X POST '${reg.url}/v2/${repo}/blobs/uploads/')`,
    `loc=$(curl -sSf '${source}' ${c === 'gzip' ? '| pigz -1 -n ' : ''}| curl -sSf -o /dev/null -w '%header{location}' -X PATCH -H 'content-type: application/octet-stream' -T - "$loc")`,
    `case "$loc" in *\\?*) sep='&';; *) sep='?';; esac`,
    `curl -sSf -o /dev/null -X PUT "$loc\${sep}digest=${digest}"`,
  ].join('\n');
  return timed('bash', ['-c', script]);
}

/** The floor (bench/floor.ts): the pipe's stream plus only the digests an image needs. */
function floorBake(
  m: MlflowRig,
  reg: RegistryRig,
  model: LoggedFixture,
  size: number,
  c: 'none' | 'zstd',
): Promise<Measure> {
  const path = relative(join(m.dir, 'artifacts'), join(model.modelDir, weights(model).path));
  const source = `${m.url}/api/2.0/mlflow-artifacts/artifacts/${path}`;
  // The same V8 settings kiln's streaming commands use (src/cli/main.ts), so both run alike.
  return timed(process.execPath, [
    '--semi-space-growth-factor=1',
    '--heap-growing-percent=200',
    join(REPO_ROOT, 'bench', 'floor.ts'),
    source,
    reg.url,
    `bench/floor-${size}g`,
    c,
  ]);
}

/** crane's version: append the model tar (from local disk) as a gzip layer onto scratch and push. */
function craneBake(tar: string, size: number, tag: string): Promise<Measure> {
  return timed(
    toolPath('crane'),
    ['append', '--insecure', '-f', tar, '-t', `${registry.host}/bench/crane-${size}g:${tag}`],
    { env: process.env },
  );
}

/** buildah's version of the same bake: from scratch, copy the model dir to /mnt/models, commit, push. */
async function buildahBake(
  model: LoggedFixture,
  size: number,
  c: Compression,
  tag: string,
): Promise<Measure> {
  const root = join(work.path, `buildah-${size}-${tag}`);
  const script = [
    'set -e',
    `B="buildah --storage-driver vfs --root ${root}/root --runroot ${root}/run"`,
    'ctr=$($B from scratch)',
    `$B copy --chmod 0644 "$ctr" ${model.modelDir}/ /mnt/models/`,
    `$B config --env MODEL_NAME=${model.name} --env MODEL_VERSION=${model.version} "$ctr"`,
    `$B commit --quiet "$ctr" bench-${size}-${tag} >/dev/null`,
    `$B push --quiet --tls-verify=false ${c === 'none' ? '--disable-compression' : `--compression-format ${c}`} bench-${size}-${tag} docker://${registry.host}/bench/buildah-${size}g:${tag}`,
  ].join('\n');
  try {
    return await timed('bash', ['-c', script]);
  } finally {
    await run('rm', ['-rf', root]).catch(() => undefined);
  }
}
