// Bad input and broken services, each met the way a user meets it: a `kiln bake` process whose
// exit code, stderr and --json error say what failed, on which object, and what to do.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kiln, kilnEnv } from '../rig/cli.ts';
import { BUSYBOX_LAYOUT, ensureBusyboxLayouts } from '../rig/images.ts';
import { logModels, type MlflowRig, startMlflow } from '../rig/mlflow.ts';
import { freePort, run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

let mlflow: MlflowRig;
let registry: RegistryRig;
let locked: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
const base = () => `oci:${BUSYBOX_LAYOUT}:latest`;

before(async () => {
  [mlflow, registry, locked, work] = await Promise.all([
    startMlflow(),
    startRegistry(),
    startRegistry({ auth: { username: 'ci', password: 'right-password' } }),
    tempDir('bake-errors'),
  ]);
  await logModels(mlflow, [
    { name: 'iris', alias: 'champion' },
    { name: 'iris', alias: 'challenger' },
  ]);
  await ensureBusyboxLayouts();
  env = kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, DOCKER_CONFIG: join(work.path, 'docker') });
});

after(async () => {
  await Promise.all([mlflow?.stop(), registry?.stop(), locked?.stop()]);
  await work?.remove();
});

interface JsonError {
  error: { code: string; message: string; hint?: string };
}

async function bakeFails(
  args: string[],
  expect: { code: string; exit: number; mentions: RegExp[] },
  e = env,
) {
  const res = await kiln(['bake', ...args, '--json'], { env: e });
  assert.equal(res.code, expect.exit, `exit code; stderr:\n${res.stderr}`);
  const out = JSON.parse(res.stdout) as JsonError;
  assert.equal(out.error.code, expect.code, res.stderr);
  for (const m of expect.mentions) assert.match(res.stderr, m);
  assert.match(res.stderr, /hint: /, 'every error says what to do');
  return res;
}

test('an unknown model is a usage error naming the model', async () => {
  await bakeFails(['models:/no-such-model@champion', '--to', `oci:${work.path}/x`, '--base', base()], {
    code: 'MODEL_NOT_FOUND',
    exit: 2,
    mentions: [/no-such-model/],
  });
});

test('an unknown alias is a usage error naming the alias', async () => {
  await bakeFails(['models:/iris@prod', '--to', `oci:${work.path}/x`, '--base', base()], {
    code: 'MODEL_ALIAS_NOT_FOUND',
    exit: 2,
    mentions: [/prod/, /iris/],
  });
});

test('a malformed model URI is a usage error showing the right form', async () => {
  await bakeFails(['iris@champion', '--to', `oci:${work.path}/x`], {
    code: 'MODEL_URI_INVALID',
    exit: 2,
    mentions: [/models:\//],
  });
});

test('MLflow down fails after bounded retries, naming the server', async () => {
  const port = await freePort();
  await bakeFails(
    ['models:/iris@champion', '--to', `oci:${work.path}/x`],
    { code: 'MLFLOW_UNREACHABLE', exit: 1, mentions: [new RegExp(`127\\.0\\.0\\.1:${port}`)] },
    { ...env, MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}` },
  );
});

test('a registry that is down fails clearly and leaves nothing behind', async () => {
  const port = await freePort();
  await bakeFails(['models:/iris@champion', '--to', `127.0.0.1:${port}/ml/iris`, '--base', base()], {
    code: 'REGISTRY_UNREACHABLE',
    exit: 1,
    mentions: [new RegExp(`127\\.0\\.0\\.1:${port}`)],
  });
});

test('a wrong registry password is rejected and says where credentials come from', async () => {
  const docker = join(work.path, 'docker-wrong');
  await mkdir(docker, { recursive: true });
  const auth = Buffer.from('ci:wrong-password').toString('base64');
  await writeFile(join(docker, 'config.json'), JSON.stringify({ auths: { [locked.host]: { auth } } }));
  const res = await bakeFails(
    ['models:/iris@champion', '--to', `${locked.host}/ml/iris`, '--base', base()],
    { code: 'REGISTRY_AUTH_FAILED', exit: 1, mentions: [new RegExp(locked.host)] },
    { ...env, DOCKER_CONFIG: docker },
  );
  assert.doesNotMatch(res.stderr + res.stdout, /wrong-password/, 'the password never appears in output');
  // With the right password the same bake works.
  await writeFile(
    join(docker, 'config.json'),
    JSON.stringify({
      auths: { [locked.host]: { auth: Buffer.from('ci:right-password').toString('base64') } },
    }),
  );
  const ok = await kiln(
    ['bake', 'models:/iris@champion', '--to', `${locked.host}/ml/iris`, '--base', base()],
    { env: { ...env, DOCKER_CONFIG: docker } },
  );
  assert.equal(ok.code, 0, ok.stderr);
});

test('a base image that does not exist is a usage error naming it', async () => {
  await bakeFails(
    [
      'models:/iris@champion',
      '--to',
      `${registry.host}/ml/iris`,
      '--base',
      `${registry.host}/runtimes/missing:1.0`,
    ],
    {
      code: 'BASE_NOT_FOUND',
      exit: 2,
      mentions: [/runtimes\/missing:1\.0/],
    },
  );
});

test('a tag held by another digest is refused with exit 3, and the tag does not move', async () => {
  const first = await kiln(
    ['bake', 'models:/iris@champion', '--to', `${registry.host}/ml/held`, '--base', base(), '--tag', 'prod'],
    { env },
  );
  assert.equal(first.code, 0, first.stderr);
  const res = await bakeFails(
    ['models:/iris@challenger', '--to', `${registry.host}/ml/held`, '--base', base(), '--tag', 'prod'],
    {
      code: 'TAG_HELD',
      exit: 3,
      mentions: [new RegExp(first.stdout.trim().split('@')[1]!), /--force-tag/],
    },
  );
  assert.equal(res.stdout.includes('"code":"TAG_HELD"'), true);
  const { stdout } = await run('skopeo', [
    'inspect',
    '--tls-verify=false',
    `docker://${registry.host}/ml/held:prod`,
  ]);
  assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, first.stdout.trim().split('@')[1]);
});

test('an invalid --compression is a usage error listing the choices', async () => {
  await bakeFails(['models:/iris@champion', '--compression', 'brotli'], {
    code: 'USAGE',
    exit: 2,
    mentions: [/--compression/, /gzip/],
  });
});
