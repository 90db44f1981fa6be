// `kiln keygen` as a user runs it: files, modes, stdout/--json, refusing to overwrite, where the
// password comes from (COSIGN_PASSWORD, a real no-echo terminal prompt, or a clear error), and
// that the password and key never show up in anything it prints. The keys are checked with the
// real cosign (v2.6.5) too.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadPrivateKey } from '../../src/sign/keys.ts';
import { exec, type Ran } from '../rig/cosign.ts';
import { PYTHON, REPO_ROOT, tempDir, toolPath } from '../rig/proc.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const PTY = join(REPO_ROOT, 'test', 'fixtures', 'sign', 'pty-run.py');
const PW = 'Velvet-Anchor-6621';

let dir: { path: string; remove: () => Promise<void> };
const at = (name: string): string => join(dir.path, name);
const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: dir.path });
const keygen = (args: string[], env: NodeJS.ProcessEnv): Promise<Ran> =>
  exec(process.execPath, [MAIN, 'keygen', ...args], { ...baseEnv(), ...env }, dir.path);

/** Private key lines that must never be printed (the password is checked separately). */
async function keyLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
}

function assertNoSecrets(out: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!out.includes(s), `output leaks "${s.slice(0, 8)}...":\n${out}`);
}

before(async () => {
  dir = await tempDir('sign-keygen');
});
after(() => dir?.remove());

test('with COSIGN_PASSWORD: writes P.key (0600) and P.pub, prints the two paths, and nothing secret', async () => {
  const r = await keygen(['--output-key-prefix', 'release'], { COSIGN_PASSWORD: PW });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${at('release.key')}\n${at('release.pub')}\n`);
  assert.equal((await stat(at('release.key'))).mode & 0o777, 0o600);
  assert.match(await readFile(at('release.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
  await loadPrivateKey(at('release.key'), PW);
  assertNoSecrets(r.stdout + r.stderr, [PW, ...(await keyLines(at('release.key')))]);
});

test('--json prints one object with both paths', async () => {
  const r = await keygen(['--output-key-prefix', 'j', '--json'], { COSIGN_PASSWORD: PW });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { privateKey: at('j.key'), publicKey: at('j.pub') });
});

test('an existing key is refused with exit 2 and left untouched; --force replaces the pair', async () => {
  const before = await readFile(at('release.key'), 'utf8');
  const r = await keygen(['--output-key-prefix', 'release', '--json'], { COSIGN_PASSWORD: 'other-pw-1' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /release\.key already exists/);
  assert.match(r.stderr, /--force/);
  assert.equal(JSON.parse(r.stdout).error.code, 'KEY_EXISTS');
  assert.equal(await readFile(at('release.key'), 'utf8'), before);
  assertNoSecrets(r.stdout + r.stderr, ['other-pw-1', ...(await keyLines(at('release.key')))]);

  const f = await keygen(['--output-key-prefix', 'release', '--force'], { COSIGN_PASSWORD: 'other-pw-1' });
  assert.equal(f.code, 0, f.stderr);
  assert.notEqual(await readFile(at('release.key'), 'utf8'), before);
  await loadPrivateKey(at('release.key'), 'other-pw-1');
});

test('no COSIGN_PASSWORD and no terminal: exit 2 saying how to give a password, and no files', async () => {
  const r = await keygen(['--output-key-prefix', 'nopw'], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /COSIGN_PASSWORD is not set and stdin is not a terminal/);
  assert.deepEqual(
    (await readdir(dir.path)).filter((f) => f.startsWith('nopw')),
    [],
  );
});

test('an empty COSIGN_PASSWORD works as in cosign (with a warning), and cosign signs with the key', async () => {
  const r = await keygen(['--output-key-prefix', 'empty'], { COSIGN_PASSWORD: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /EMPTY password/);
  assert.ok(existsSync(toolPath('cosign')), 'cosign not built: run scripts/setup go');
  const c = await exec(
    toolPath('cosign'),
    ['sign-blob', '--key', at('empty.key'), '--tlog-upload=false', '--yes', at('empty.pub')],
    { ...baseEnv(), COSIGN_PASSWORD: '' },
    dir.path,
  );
  assert.equal(c.code, 0, c.stderr);
});

/** Run keygen on a real pseudo-terminal, answering the prompts. */
async function keygenOnTty(prefix: string, answers: string[]): Promise<{ output: string; status: number }> {
  const script = JSON.stringify(answers.map((a, i) => [i === 0 ? 'Enter password' : 'again', `${a}\r`]));
  const env = baseEnv(); // no COSIGN_PASSWORD: the prompt is the only source
  const r = await exec(
    PYTHON,
    [PTY, script, process.execPath, MAIN, 'keygen', '--output-key-prefix', prefix],
    env,
    dir.path,
  );
  assert.equal(r.code, 0, `pty helper failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { output: string; status: number };
}

test('on a terminal: asks twice with echo off; the typed password encrypts the key, and cosign accepts it', async () => {
  const r = await keygenOnTty('tty', [PW, PW]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /Enter password for the new private key: /);
  assert.match(r.output, /Enter password for the new private key again: /);
  assertNoSecrets(r.output, [PW, PW.slice(0, 8)]);
  await loadPrivateKey(at('tty.key'), PW);
  const c = await exec(
    toolPath('cosign'),
    ['sign-blob', '--key', at('tty.key'), '--tlog-upload=false', '--yes', at('tty.pub')],
    { ...baseEnv(), COSIGN_PASSWORD: PW },
    dir.path,
  );
  assert.equal(c.code, 0, c.stderr);
});

test('on a terminal: two different passwords are refused with exit 2 and write nothing', async () => {
  const r = await keygenOnTty('mismatch', ['first-Pw-1', 'second-Pw-2']);
  assert.equal(r.status, 2, r.output);
  assert.match(r.output, /the two passwords typed do not match/);
  assertNoSecrets(r.output, ['first-Pw-1', 'second-Pw-2']);
  assert.equal(existsSync(at('mismatch.key')), false);
});
