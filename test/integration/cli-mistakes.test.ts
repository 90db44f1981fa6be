// Ordinary mistakes a newcomer makes, met through the real `kiln` process with a real MLflow and
// registry: each is reported with a stable code naming the object and the fix, never as "a bug in
// kiln"; argument mistakes are caught before any network call; nothing hangs; nothing is left
// on disk.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type KilnRun, kiln, kilnEnv } from '../rig/cli.ts';
import { BUSYBOX_LAYOUT, ensureBusyboxLayouts, SKLEARN_RUNTIME_LAYOUT } from '../rig/images.ts';
import { logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { freePort, run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
/** MLflow at a port nothing listens on: a command that contacts it fails with MLFLOW_UNREACHABLE. */
let offline: NodeJS.ProcessEnv;
const base = () => `oci:${BUSYBOX_LAYOUT}:latest`;

before(async () => {
  [mlflow, registry, work] = await Promise.all([startMlflow(), startRegistry(), tempDir('cli-mistakes')]);
  await Promise.all([logModels(mlflow, [{ name: 'iris', alias: 'champion' }]), ensureBusyboxLayouts()]);
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, DOCKER_CONFIG: join(work.path, 'docker') });
  offline = { ...env, MLFLOW_TRACKING_URI: `http://127.0.0.1:${await freePort()}` };
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop()]);
  await run('chattr', ['-R', '-i', work.path]).catch(() => {});
  await work?.remove();
});

interface JsonError {
  error: { code: string; message: string; hint?: string };
}

async function fails(
  args: string[],
  expect: { code: string; exit: number; mentions: RegExp[] },
  e = env,
  cwd?: string,
): Promise<KilnRun> {
  const res = await kiln([...args, '--json'], { env: e, ...(cwd ? { cwd } : {}) });
  assert.equal(res.code, expect.exit, `exit code; stderr:\n${res.stderr}`);
  const out = JSON.parse(res.stdout) as JsonError;
  assert.equal(out.error.code, expect.code, res.stderr);
  for (const m of expect.mentions) assert.match(res.stderr, m);
  assert.match(res.stderr, /hint: /, 'every error says what to do');
  assert.doesNotMatch(res.stderr, /bug in kiln|unexpected failure/);
  return res;
}

// --- usage errors before any network call (MLflow is offline: reaching it would fail differently)

test('--to oci: with no folder is a usage error before MLflow is contacted', async () => {
  await fails(
    ['bake', 'models:/iris@champion', '--to', 'oci:'],
    {
      code: 'LOCATION_INVALID',
      exit: 2,
      mentions: [/"oci:" names no directory/],
    },
    offline,
  );
});

test('an upper-case repository is refused before MLflow, with the lowercase spelling', async () => {
  await fails(
    ['bake', 'models:/iris@champion', '--to', `${registry.host}/ML/Iris`],
    {
      code: 'REFERENCE_INVALID',
      exit: 2,
      mentions: [/upper-case/, new RegExp(`${registry.host}/ml/iris`)],
    },
    offline,
  );
});

test('an unknown --tag placeholder is named before MLflow', async () => {
  await fails(
    ['bake', 'models:/iris@champion', '--tag', '{verison}'],
    {
      code: 'TAG_TEMPLATE_INVALID',
      exit: 2,
      mentions: [/\{verison\}/, /\{version\}/],
    },
    offline,
  );
});

test('--mode modelcar without a base is refused before MLflow', async () => {
  await fails(
    ['bake', 'models:/iris@champion', '--mode', 'modelcar'],
    {
      code: 'MODELCAR_BASE_REQUIRED',
      exit: 2,
      mentions: [/--base/],
    },
    offline,
  );
});

test('models:/x@latest is refused like models:/x/latest (both mean "whatever is newest")', async () => {
  for (const uri of ['models:/iris@latest', 'models:/iris/latest']) {
    await fails(
      ['bake', uri],
      { code: 'MODEL_URI_INVALID', exit: 2, mentions: [/newest/, /@champion/] },
      offline,
    );
  }
});

test('a target pinned to a digest is refused before MLflow (promote too)', async () => {
  const pinned = `${registry.host}/ml/iris@sha256:${'0'.repeat(64)}`;
  await fails(
    ['bake', 'models:/iris@champion', '--to', pinned],
    { code: 'LOCATION_INVALID', exit: 2, mentions: [/digest/] },
    offline,
  );
  await fails(
    ['promote', 'models:/iris@champion', '--to', 'oci:'],
    { code: 'LOCATION_INVALID', exit: 2, mentions: [/oci:/] },
    offline,
  );
});

test('docker://host/repo is accepted as skopeo users write it', async () => {
  const res = await kiln(
    ['bake', 'models:/iris@champion', '--to', `docker://${registry.host}/ml/iris`, '--base', base()],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout.trim(), new RegExp(`^${registry.host}/ml/iris@sha256:[0-9a-f]{64}$`));
});

// --- environment and configuration

test('an invalid MLFLOW_TRACKING_URI names the variable and the form to use', async () => {
  await fails(
    ['bake', 'models:/iris@champion'],
    {
      code: 'CONFIG_INVALID',
      exit: 2,
      mentions: [/MLFLOW_TRACKING_URI="127\.0\.0\.1:5000"/, /http\(s\):\/\/host:port/],
    },
    { ...env, MLFLOW_TRACKING_URI: '127.0.0.1:5000' },
  );
});

test('a config key typo gets "did you mean"', async () => {
  const file = join(work.path, 'typo.yaml');
  await writeFile(file, 'bulid:\n  target: oci:./x\nmlflow:\n  trackinguri: http://127.0.0.1:1\n');
  await fails(['-c', file, 'bake', 'models:/iris@champion'], {
    code: 'CONFIG_INVALID',
    exit: 2,
    mentions: [
      /unknown key "bulid" \(did you mean "build"\?\)/,
      /unknown key "trackinguri" \(did you mean "trackingUri"\?\)/,
    ],
  });
});

test('paths in kiln.yaml are relative to the file, not to where kiln runs', async () => {
  const project = join(work.path, 'project');
  const elsewhere = join(work.path, 'elsewhere');
  await mkdir(project, { recursive: true });
  await mkdir(elsewhere, { recursive: true });
  await writeFile(join(project, 'kiln.yaml'), `build:\n  target: oci:./images\n  base: ${base()}\n`);
  const res = await kiln(['-c', join(project, 'kiln.yaml'), 'bake', 'models:/iris@champion'], {
    env,
    cwd: elsewhere,
  });
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.stdout.startsWith(`oci:${join(project, 'images')}@sha256:`), res.stdout);
  assert.equal(existsSync(join(elsewhere, 'images')), false);
});

// --- network and filesystem errors, classified

test('an unknown registry host names the host (no retries, no "bug")', async () => {
  await fails(
    ['bake', 'models:/iris@champion', '--to', 'no-such-registry.invalid/ml/iris', '--base', base()],
    {
      code: 'REGISTRY_UNREACHABLE',
      exit: 1,
      mentions: [/no-such-registry\.invalid/, /does not resolve/],
    },
  );
});

test('https:// against a plain-HTTP MLflow says so and gives the http:// URI', async () => {
  const https = mlflow.url.replace('http:', 'https:');
  await fails(
    ['bake', 'models:/iris@champion'],
    {
      code: 'MLFLOW_TLS_FAILED',
      exit: 2,
      mentions: [/plain HTTP/, new RegExp(`MLFLOW_TRACKING_URI=${mlflow.url.replace(/\./g, '\\.')}`)],
    },
    { ...env, MLFLOW_TRACKING_URI: https },
  );
});

test('--to oci:/proc/img fails at once instead of spinning', async () => {
  const started = Date.now();
  await fails(['bake', 'models:/iris@champion', '--to', 'oci:/proc/kiln-img'], {
    code: 'DIR_CANNOT_CREATE',
    exit: 2,
    mentions: [/\/proc\/kiln-img/],
  });
  assert.ok(Date.now() - started < 30_000);
});

test('an oci: path under a regular file names the file', async () => {
  const file = join(work.path, 'a-file');
  await writeFile(file, 'x');
  await fails(['bake', 'models:/iris@champion', '--to', `oci:${file}/img`], {
    code: 'NOT_A_DIRECTORY',
    exit: 2,
    mentions: [new RegExp(`${file} is a file`)],
  });
});

test('an unwritable oci: folder is a permission error naming it (immutable dir: root is refused too)', async () => {
  const locked = join(work.path, 'locked');
  await mkdir(locked);
  await run('chattr', ['+i', locked]);
  try {
    await fails(['bake', 'models:/iris@champion', '--to', `oci:${locked}/img`], {
      code: 'PERMISSION_DENIED',
      exit: 2,
      mentions: [new RegExp(`${locked}/img`)],
    });
  } finally {
    await run('chattr', ['-i', locked]);
  }
});

test('a full disk is reported as such, and the half-written layout is removed', async () => {
  const small = join(work.path, 'small');
  await mkdir(small);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
  try {
    await fails(['bake', 'models:/iris@champion', '--to', `oci:${small}/img`, '--base', base()], {
      code: 'DISK_FULL',
      exit: 1,
      mentions: [/no space left/, /df -h/],
    });
    assert.deepEqual(await readdir(small), []);
  } finally {
    await run('umount', [small]);
  }
});

test('a failed bake leaves no new empty oci: folder behind', async () => {
  const dir = join(work.path, 'never-made');
  await fails(
    ['bake', 'models:/iris@champion', '--to', `oci:${dir}`, '--base', `${registry.host}/runtimes/missing:1`],
    {
      code: 'BASE_NOT_FOUND',
      exit: 2,
      mentions: [/runtimes\/missing:1/],
    },
  );
  assert.equal(existsSync(dir), false);
});

// --- what a bake reports

test('a mutable base tag is reported with the digest it resolved to', async () => {
  const res = await kiln(
    ['bake', 'models:/iris@champion', '--to', `oci:${work.path}/tagged`, '--base', base()],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /base oci:.*busybox:latest resolved to sha256:[0-9a-f]{64}/);
});

test('--mode modelcar on a full serving runtime warns', async () => {
  const res = await kiln(
    [
      'bake',
      'models:/iris@champion',
      '--to',
      `oci:${work.path}/modelcar`,
      '--mode',
      'modelcar',
      '--base',
      `oci:${SKLEARN_RUNTIME_LAYOUT}:latest`,
    ],
    { env },
  );
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /warn: --mode modelcar on .*looks like a serving runtime/);
});

test('--json of bake has the same shape for a fresh and a repeated bake', async () => {
  const args = [
    'bake',
    'models:/iris@champion',
    '--to',
    `oci:${work.path}/shape`,
    '--base',
    base(),
    '--json',
  ];
  const first = await kiln(args, { env });
  const again = await kiln(args, { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(again.code, 0, again.stderr);
  const a = JSON.parse(first.stdout) as Record<string, unknown>;
  const b = JSON.parse(again.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  assert.equal(b['reused'], true);
  for (const k of ['digest', 'layer', 'platforms', 'files', 'baseDigest']) assert.deepEqual(b[k], a[k], k);
});
