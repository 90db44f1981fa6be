// The package users install: `npm run build` bundles the CLI (scripts/build.ts), `npm pack` makes
// the tarball, `npm install -g` of it gives a `kiln` on PATH. Checked the way a user meets it: the
// installed bin runs from outside the repository, and the bundle needs no module outside itself,
// nor data files it cannot find: the scanner's allowlist packs (inlined JSON) and the dashboard's
// files (copied to dist/server/ui) are exercised from the installed package.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, httpOk, REPO_ROOT, run, startService, tempDir } from '../rig/proc.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

describe('the packed CLI', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let tarball: string;
  let prefix: string;

  before(async () => {
    dir = await tempDir('cli-package');
    await run('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT });
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir.path], {
      cwd: REPO_ROOT,
    });
    tarball = join(dir.path, stdout.trim().split('\n').at(-1) ?? '');
  });
  after(async () => {
    await dir?.remove();
  });

  const kiln = (bin: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(bin, args, { cwd: dir.path, encoding: 'utf8', env: { PATH: process.env['PATH'], ...env } });

  it('installs with npm install -g and runs as kiln, printing the package version', async () => {
    prefix = join(dir.path, 'global');
    // --offline: every dependency is in npm's cache after `npm ci`; the test must not need a registry.
    await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball]);
    const r = kiln(join(prefix, 'bin', 'kiln'), ['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('is self-contained: the bundle runs from the bare tarball with no node_modules anywhere', async () => {
    await run('tar', ['-xzf', tarball, '-C', dir.path]);
    const main = join(dir.path, 'package', 'dist', 'cli', 'main.js');
    const help = kiln(process.execPath, [main, 'rollback', '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /previous \(or a named\) digest/);
    // A command that loads its whole implementation (Kubernetes client included) and then fails
    // on input: any missing module would be an INTERNAL error instead of this usage error.
    const r = kiln(process.execPath, [main, 'rollback', 'ns/isvc'], {
      KUBECONFIG: join(dir.path, 'missing-kubeconfig'),
      HOME: dir.path,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /missing-kubeconfig/);
    assert.doesNotMatch(r.stderr, /unexpected failure|Cannot find (module|package)/);
  });

  it('reads kiln.yaml (the YAML parser is loaded only then) and points at a syntax error', async () => {
    const main = join(dir.path, 'package', 'dist', 'cli', 'main.js');
    await writeFile(join(dir.path, 'kiln.yaml'), 'build:\n  mode: [\n');
    const r = kiln(process.execPath, [main, 'rollback', 'ns/isvc']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /kiln\.yaml:\d+:\d+: not valid YAML/);
    await writeFile(join(dir.path, 'kiln.yaml'), 'build:\n  mode: nope\n');
    const bad = kiln(process.execPath, [main, 'rollback', 'ns/isvc']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /build\.mode/);
  });

  it('scans a pickle with the allowlist packs compiled into the bundle', async () => {
    const main = join(dir.path, 'package', 'dist', 'cli', 'main.js');
    const work = join(dir.path, 'scan');
    await mkdir(work);
    // Hand-written protocol-2 pickles: PROTO 2, GLOBAL module\nname\n, args, REDUCE, STOP.
    // A scikit-learn global is allowed only by the sklearn pack (src/scan/packs/sklearn.json).
    const ok = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('csklearn._loss._loss\nCyHalfPoissonLoss\n)R.', 'latin1'),
    ]);
    const bad = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cposix\nsystem\nX\x04\x00\x00\x00true\x85R.', 'latin1'),
    ]);
    await writeFile(join(work, 'ok.pkl'), ok);
    await writeFile(join(work, 'bad.pkl'), bad);
    const pass = spawnSync(process.execPath, [main, 'scan', 'ok.pkl'], {
      cwd: work,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
    });
    assert.equal(pass.status, 0, pass.stderr);
    assert.match(pass.stderr, /ok\.pkl: pickle, pass/);
    const block = spawnSync(process.execPath, [main, 'scan', 'bad.pkl'], {
      cwd: work,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
    });
    assert.equal(block.status, 3, block.stderr);
    assert.match(block.stderr, /BLOCK bad\.pkl @\d+ REDUCE posix\.system/);
  });

  it('kiln serve from the installed package serves the dashboard page and its files', async () => {
    const work = join(dir.path, 'serve');
    await mkdir(work);
    const port = await freePort();
    const closed = await freePort(); // nothing listens there: MLflow is not needed to serve the page
    await writeFile(
      join(work, 'kiln.yaml'),
      `models:\n  - name: m\n    deploy: { inferenceService: prod/m }\nserver:\n  listen: 127.0.0.1:${port}\n  stateDir: ./state\n`,
    );
    const base = `http://127.0.0.1:${port}`;
    const svc = await startService({
      name: 'kiln serve (installed)',
      cmd: join(prefix, 'bin', 'kiln'),
      args: ['serve', '--no-webhook'],
      cwd: work,
      env: { PATH: process.env['PATH'], HOME: work, MLFLOW_TRACKING_URI: `http://127.0.0.1:${closed}` },
      logFile: join(work, 'serve.log'),
      ready: () => httpOk(`${base}/healthz`),
      timeoutMs: 20_000,
    });
    try {
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200, await svc.logTail());
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      const html = await page.text();
      assert.equal(html, await readFile(join(REPO_ROOT, 'src', 'server', 'ui', 'index.html'), 'utf8'));
      const app = await fetch(`${base}/ui/app.js`);
      assert.equal(app.status, 200);
      assert.match(app.headers.get('content-type') ?? '', /javascript/);
      assert.equal(
        await app.text(),
        await readFile(join(REPO_ROOT, 'src', 'server', 'ui', 'app.js'), 'utf8'),
      );
    } finally {
      await svc.stop();
    }
  });
});
