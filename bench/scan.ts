// bench/scan: kiln's model scanner beside picklescan, ModelScan and fickling (pinned in the scan
// venv, scripts/setup scan) on the same corpus, built in this run by test/rig/python/scan_corpus.py:
//   1. blocked / missed / false positives per tool (a tool "blocks" a file when it exits non-zero,
//      which is how a CI gate uses it; kiln's verdict is its exit code too: 3 = blocked);
//   2. throughput (MB/s) and peak RSS (GNU time %M) of a standalone scan of one large pickle of
//      numpy arrays (protocol 5, default 2 GiB);
//   3. the scan's cost inside a bake: the layer stream (tar -> sha256 -> sink, compression none,
//      the most sensitive case) over the same file with and without the scan tee, each in its own
//      process under GNU time.
//   node bench/scan.ts [--gib 2] [--benign 40] [--tools picklescan,modelscan,fickling]
// Run after `. scripts/lib.sh`, alone (the machine's cores are shared: compare columns of one run).
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { buildLayer } from '../src/oci/layer/layer.ts';
import { ScanGate } from '../src/pipeline/scan-gate.ts';
import { Scanner, scanStream } from '../src/scan/index.ts';
import { REPO_ROOT, TOOLS_DIR, tempDir } from '../test/rig/proc.ts';
import { buildScanCorpus, SCAN_PYTHON } from '../test/rig/scan-corpus.ts';
import { measure } from './time.ts';

// fickling writes safety_results.json into its working directory: every tool runs in the work folder.
const run = (cmd: string, args: string[]) => measure(cmd, args, { cwd: work.path });

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '2' },
    benign: { type: 'string', default: '40' },
    tools: { type: 'string', default: 'picklescan,modelscan,fickling' },
    'layer-child': { type: 'string' },
    file: { type: 'string' },
  },
});

// Child mode: one layer stream over --file, with (scan) or without (plain) the scan tee.
if (values['layer-child']) {
  const file = values.file!;
  const { size } = await stat(file);
  const gate =
    values['layer-child'] === 'scan' ? new ScanGate({ mode: 'block', allow: [], approve: [] }) : undefined;
  const layer = buildLayer(
    [
      {
        path: 'mnt/models/model.pkl',
        size,
        open: () => (gate ? gate.wrap('model.pkl', createReadStream(file)) : createReadStream(file)),
      },
    ],
    { mtime: 0, compression: 'none', mediaType: 'x' },
  );
  await pipeline(layer.stream, new Writable({ write: (_c, _e, cb) => cb() }));
  if (gate) await gate.afterLayer(layer.result().files);
  process.exit(0);
}

const BIN = join(TOOLS_DIR, 'venv-scan', 'bin');
const TOOLS: Record<string, (f: string) => [string, string[]]> = {
  kiln: (f) => [process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'scan', f]],
  picklescan: (f) => [join(BIN, 'picklescan'), ['--path', f]],
  modelscan: (f) => [join(BIN, 'modelscan'), ['-p', f]],
  fickling: (f) => [join(BIN, 'fickling'), ['--check-safety', f]],
};

const tools = ['kiln', ...values.tools.split(',').filter((t) => t in TOOLS)];
// Absolute MB/s on a shared 2-core machine mean little: print the load, compare columns of one run.
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(`load average at start: ${load()} (${cpus().length} cores)`);
const corpus = await buildScanCorpus();
const work = await tempDir('bench-scan');
try {
  // 1. Detection on the same files.
  const benign = corpus.benign.filter(
    (_, i) => i % Math.max(1, Math.floor(corpus.benign.length / Number(values.benign))) === 0,
  );
  console.log(
    `corpus: ${corpus.malicious.length} malicious, ${benign.length} of ${corpus.benign.length} benign files`,
  );
  const scanner = new Scanner();
  const rows: string[][] = [];
  const missedBy: Record<string, string[]> = {};
  for (const tool of tools) {
    let blocked = 0;
    let fp = 0;
    const missed: string[] = [];
    for (const f of corpus.malicious) {
      const hit =
        tool === 'kiln'
          ? (await scanStream(scanner, f, createReadStream(f))).verdict === 'block'
          : (await run(...TOOLS[tool]!(f))).code !== 0;
      if (hit) blocked++;
      else missed.push(basename(f));
    }
    for (const f of benign) {
      const hit =
        tool === 'kiln'
          ? (await scanStream(scanner, f, createReadStream(f))).verdict === 'block'
          : (await run(...TOOLS[tool]!(f))).code !== 0;
      if (hit) fp++;
    }
    missedBy[tool] = missed;
    rows.push([tool, String(blocked), String(missed.length), `${fp} of ${benign.length}`]);
  }
  console.log('\n| tool | blocked | missed | false positives |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  for (const [t, m] of Object.entries(missedBy)) if (m.length) console.log(`missed by ${t}: ${m.join(', ')}`);

  // 2. Throughput on a large array-heavy pickle.
  const big = join(work.path, 'arrays.pkl');
  const gib = Number(values.gib);
  await new Promise<void>((resolve, reject) => {
    const p = spawn(SCAN_PYTHON, [
      '-c',
      `import pickle, numpy as np\nn=${Math.round(gib * 8)}\narrs={f"layer{i}": np.full(16*1024*1024, float(i)) for i in range(n)}\nwith open(${JSON.stringify(big)},"wb") as f: pickle.dump(arrs, f, protocol=5)`,
    ]);
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`writing the pickle failed: ${c}`))));
  });
  const { size } = await stat(big);
  console.log(`\nlarge pickle: ${(size / 2 ** 30).toFixed(2)} GiB of float64 arrays, protocol 5`);
  console.log('| tool | exit | seconds | MB/s | peak RSS MiB |\n|---|---|---|---|---|');
  for (const tool of tools) {
    const r = await run(...TOOLS[tool]!(big));
    console.log(
      `| ${tool} | ${r.code} | ${r.seconds.toFixed(1)} | ${(size / 1e6 / r.seconds).toFixed(0)} | ${r.peakMiB.toFixed(0)} |`,
    );
  }

  // 3. Overhead inside the bake's layer stream.
  const child = (mode: string) =>
    run(process.execPath, [join(REPO_ROOT, 'bench/scan.ts'), '--layer-child', mode, '--file', big]);
  const plain = await child('plain');
  const scanned = await child('scan');
  const plain2 = await child('plain');
  const scanned2 = await child('scan');
  const p = Math.min(plain.seconds, plain2.seconds);
  const s = Math.min(scanned.seconds, scanned2.seconds);
  console.log('\nbake layer stream (tar + sha256, compression none), best of 2:');
  console.log('| | seconds | MB/s | peak RSS MiB |\n|---|---|---|---|');
  console.log(
    `| without scan | ${p.toFixed(2)} | ${(size / 1e6 / p).toFixed(0)} | ${Math.max(plain.peakMiB, plain2.peakMiB).toFixed(0)} |`,
  );
  console.log(
    `| with scan | ${s.toFixed(2)} | ${(size / 1e6 / s).toFixed(0)} | ${Math.max(scanned.peakMiB, scanned2.peakMiB).toFixed(0)} |`,
  );
  console.log(`scan overhead: ${(((s - p) / p) * 100).toFixed(1)}% of the layer stream's wall time`);
  console.log(`load average at end: ${load()}`);
} finally {
  await corpus.remove();
  await work.remove();
}
