// Long work seen by a person: progress on a real terminal (tmux), a line every few seconds off a
// terminal, one summary line at the end; and Ctrl-C / SIGTERM / kill -9 during a bake into an oci:
// layout, an oci-archive: file and a real registry: nothing tagged, no temp files, no open upload
// session, exit 130/143, and a later run into the same target sweeps what a killed run left.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KILN_MAIN, kiln, kilnEnv } from '../rig/cli.ts';
import { BUSYBOX_LAYOUT, ensureBusyboxLayouts } from '../rig/images.ts';
import { logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { run, sleep, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
const base = () => `oci:${BUSYBOX_LAYOUT}:latest`;
// gzip runs at ~40 MB/s here: long enough to watch and to interrupt, short enough for CI.
const MODEL = 'models:/big@champion';

before(async () => {
  [mlflow, registry, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('cli-interrupt')]);
  await Promise.all([
    logModels(mlflow, [{ name: 'big', alias: 'champion', sizeBytes: 160 << 20, seed: 'interrupt' }]),
    ensureBusyboxLayouts(),
  ]);
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, DOCKER_CONFIG: join(work.path, 'docker') });
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop()]);
  await work?.remove();
});

interface Started {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | NodeJS.Signals>;
}

function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, [KILN_MAIN, ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | NodeJS.Signals>((r) =>
    child.on('close', (code, signal) => r(code ?? signal ?? -1)),
  );
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** Wait until the model layer is streaming (kiln said "baking"), then a little longer. */
async function whenStreaming(p: Started, extraMs = 1000): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!/baking models:\/big\/1/.test(p.stderr())) {
    if (Date.now() > deadline) throw new Error(`kiln never started baking:\n${p.stderr()}`);
    await sleep(50);
  }
  await sleep(extraMs);
}

const tmpBlobs = async (layout: string): Promise<string[]> =>
  (await readdir(join(layout, 'blobs', 'sha256')).catch(() => [])).filter((f) => f.startsWith('.tmp-'));

async function tags(layout: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ annotations?: Record<string, string> }>;
  };
  return index.manifests
    .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
    .filter((t) => t !== undefined);
}

test('Ctrl-C during a bake into an oci: layout: exit 130, nothing tagged, no temp blobs', async () => {
  const layout = join(work.path, 'layout');
  // The layout exists already (another image in it), so the folder itself stays.
  const first = await kiln(
    ['bake', MODEL, '--to', `oci:${layout}:other`, '--base', base(), '--compression', 'none'],
    { env },
  );
  assert.equal(first.code, 0, first.stderr);
  const p = start(['bake', MODEL, '--to', `oci:${layout}`, '--base', base(), '--compression', 'gzip']);
  await whenStreaming(p);
  assert.ok((await tmpBlobs(layout)).length > 0, 'a temp blob is being written');
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 130, p.stderr());
  assert.match(p.stderr(), /interrupted; nothing was tagged; run again to resume/);
  assert.deepEqual(await tmpBlobs(layout), []);
  assert.deepEqual(await tags(layout), ['other']);
});

test('SIGTERM during an upload to a registry: exit 143, upload session cancelled, no tag', async () => {
  const p = start([
    'bake',
    MODEL,
    '--to',
    `${registry.host}/ml/big`,
    '--base',
    base(),
    '--compression',
    'gzip',
  ]);
  await whenStreaming(p, 1500);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 143, p.stderr());
  assert.match(p.stderr(), /interrupted; nothing was tagged/);
  // distribution keeps an open session's bytes in _uploads/<uuid>/data; a cancelled one has none.
  const uploads = join(
    registry.dir,
    'data',
    'docker',
    'registry',
    'v2',
    'repositories',
    'ml',
    'big',
    '_uploads',
  );
  const sessions = await readdir(uploads).catch(() => []);
  assert.ok(sessions.length > 0, 'an upload session was opened');
  for (const s of sessions) {
    assert.equal((await readdir(join(uploads, s))).includes('data'), false, `upload ${s} still holds data`);
  }
  const res = await fetch(`${registry.url}/v2/ml/big/tags/list`);
  assert.equal(res.status, 404, 'no tag (the repository has no manifests)');
});

test('Ctrl-C during an oci-archive: bake leaves no .partial file', async () => {
  const dir = join(work.path, 'archives');
  const p = start([
    'bake',
    MODEL,
    '--to',
    `oci-archive:${dir}/big.tar`,
    '--base',
    base(),
    '--compression',
    'gzip',
  ]);
  await run('mkdir', ['-p', dir]);
  await whenStreaming(p);
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 130, p.stderr());
  assert.deepEqual(await readdir(dir), []);
});

test('after kill -9, the next run into the same target removes the stale temp files; off a terminal progress is a line every few seconds', async () => {
  const layout = join(work.path, 'killed');
  const archiveDir = join(work.path, 'killed-archive');
  await run('mkdir', ['-p', archiveDir]);
  const a = start(['bake', MODEL, '--to', `oci:${layout}`, '--base', base(), '--compression', 'gzip']);
  const b = start([
    'bake',
    MODEL,
    '--to',
    `oci-archive:${archiveDir}/m.tar`,
    '--base',
    base(),
    '--compression',
    'gzip',
  ]);
  await Promise.all([whenStreaming(a), whenStreaming(b)]);
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await Promise.all([a.exited, b.exited]);
  assert.ok((await tmpBlobs(layout)).length > 0, 'kill -9 leaves a temp blob');
  assert.ok(
    (await readdir(archiveDir)).some((f) => f.endsWith('.partial')),
    'kill -9 leaves a .partial',
  );

  const again = await kiln(
    ['bake', MODEL, '--to', `oci:${layout}`, '--base', base(), '--compression', 'gzip'],
    {
      env: { ...env, KILN_PROGRESS_INTERVAL: '1' },
    },
  );
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await tmpBlobs(layout), []);
  // Off a terminal: plain lines (no escape codes), some while it ran, and one summary line.
  assert.doesNotMatch(again.stderr, /\x1b\[/);
  assert.match(again.stderr, /^download +\d+% [\d.]+ MiB \/ 160\.0 MiB +[\d.]+ [KMG]iB\/s +ETA /m);
  assert.match(
    again.stderr,
    /^moved [\d.]+ MiB in [\d.]+s \([\d.]+ MiB\/s; download 160\.0 MiB, upload [\d.]+ MiB, base [\d.]+ [KM]iB\)$/m,
  );

  const archive = await kiln(
    ['bake', MODEL, '--to', `oci-archive:${archiveDir}/m.tar`, '--base', base(), '--compression', 'none'],
    { env },
  );
  assert.equal(archive.code, 0, archive.stderr);
  assert.deepEqual(await readdir(archiveDir), ['m.tar']);
});

test('on a terminal (tmux) a person sees progress move: bytes, rate and ETA, then a summary line', async () => {
  const socket = `kiln-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args]);
  const layout = join(work.path, 'tty');
  const node = process.execPath;
  const vars = Object.entries({ MLFLOW_TRACKING_URI: mlflow.url, DOCKER_CONFIG: env['DOCKER_CONFIG']! })
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const cmd = `env ${vars} ${node} ${KILN_MAIN} bake ${MODEL} --to oci:${layout} --base ${base()} --compression gzip; echo EXIT=$?; sleep 60`;
  await tmux('new-session', '-d', '-x', '150', '-y', '20', cmd);
  try {
    const frames: string[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { stdout } = await tmux('capture-pane', '-p');
      if (/download .*ETA/.test(stdout) && frames.at(-1) !== stdout) frames.push(stdout);
      if (/EXIT=\d+/.test(stdout)) {
        assert.match(stdout, /EXIT=0/, stdout);
        assert.match(stdout, /moved [\d.]+ MiB in [\d.]+s/);
        assert.doesNotMatch(stdout, /ETA/, 'the bars are cleared at the end');
        break;
      }
      if (Date.now() > deadline) throw new Error(`no end in sight:\n${stdout}`);
      await sleep(300);
    }
    assert.ok(frames.length >= 2, `progress moved on screen (${frames.length} distinct frames)`);
    const bar = /download +[█░]+ (\d+)% ([\d.]+) MiB \/ 160\.0 MiB +[\d.]+ MiB\/s +ETA [\dm.]+s/;
    const seen = frames.map((f) => bar.exec(f)).filter((m) => m !== null);
    assert.ok(seen.length >= 2, frames.join('\n----\n'));
    assert.ok(Number(seen.at(-1)![2]) > Number(seen[0]![2]), 'the byte count grew');
  } finally {
    await tmux('kill-server').catch(() => {});
  }
});
