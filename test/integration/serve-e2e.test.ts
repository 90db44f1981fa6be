// The loop closed, all real: MLflow's own webhook calls a `kiln serve` process, which runs the real
// promote (bake a 100 MB model, push to the registry, sign + attest, deploy a canary to the
// Kubernetes API with KServe's CRD). The lead time from the alias move to the InferenceService
// pointing at the new digest is measured. A second server with webhooks off shows the reconciler
// alone promoting within one interval.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { KILN_MAIN, kiln, kilnEnv } from '../rig/cli.ts';
import { emptyTrustedRoot, verifyArgs } from '../rig/cosign.ts';
import { type PushedImage, pushBusyboxBase } from '../rig/images.ts';
import { getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { type LoggedFixture, logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { freePort, run, sleep, tempDir, toolPath } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { createWebhook, mlflowWebhookEnv, waitFor } from '../rig/serve.ts';
import { startAll } from '../rig/start-all.ts';

const SECRET = 'e2e-webhook-secret';
const PASSWORD = 'e2e-key-password';
const MB100 = 100 * 1000 * 1000;
let mlflow: MlflowRig;
let registry: RegistryRig;
let kube: KubeRig;
let base: PushedImage;
let work: { path: string; remove: () => Promise<void> };
let models: LoggedFixture[];
const servers: ChildProcess[] = [];

before(async () => {
  ({ mlflow, registry, kube, work } = await startAll({
    mlflow: startMlflow({ env: mlflowWebhookEnv() }),
    registry: startRegistry(),
    kube: startKube(),
    work: tempDir('serve-e2e'),
  }));
  models = (await logModels(mlflow, [
    { name: 'lead', sizeBytes: MB100, seed: 'lead-1' },
    { name: 'lead', sizeBytes: MB100, seed: 'lead-2' },
    { name: 'polled' },
    { name: 'polled' },
  ])) as LoggedFixture[];
  base = await pushBusyboxBase(registry);
  const keygen = await kiln(['keygen', '--output-key-prefix', join(work.path, 'kiln')], {
    env: kilnEnv({ COSIGN_PASSWORD: PASSWORD }),
  });
  assert.equal(keygen.code, 0, keygen.stderr);
});

after(async () => {
  for (const s of servers) s.kill('SIGTERM');
  await Promise.all(
    servers.map((s) => (s.exitCode === null ? new Promise((r) => s.once('close', r)) : undefined)),
  );
  await Promise.all([mlflow?.stop(), registry?.stop(), kube?.stop()]);
  await work?.remove();
});

/** Start `kiln serve` as a process with a kiln.yaml watching `name`; resolves once /readyz answers 200. */
async function serve(
  name: string,
  opts: { webhook: boolean; interval: number; port?: number },
): Promise<{ url: string; log: () => string }> {
  const port = opts.port ?? (await freePort());
  const dir = join(work.path, name);
  const config = {
    build: { base: base.ref, compression: 'zstd' },
    models: [
      {
        name,
        alias: 'champion',
        target: `${registry.host}/ml/${name}`,
        signKey: join(work.path, 'kiln.key'),
        deploy: { inferenceService: `prod/${name}`, canary: 10 },
      },
    ],
    server: { listen: `127.0.0.1:${port}`, reconcileInterval: opts.interval, stateDir: join(dir, 'state') },
  };
  await run('mkdir', ['-p', dir]);
  await writeFile(join(dir, 'kiln.yaml'), stringify(config));
  const args = [
    KILN_MAIN,
    'serve',
    '--config',
    join(dir, 'kiln.yaml'),
    ...(opts.webhook ? [] : ['--no-webhook']),
  ];
  const env = kilnEnv({
    MLFLOW_TRACKING_URI: mlflow.url,
    KUBECONFIG: kube.kubeconfigPath,
    COSIGN_PASSWORD: PASSWORD,
    ...(opts.webhook ? { KILN_WEBHOOK_SECRET: SECRET } : {}),
  });
  const child = spawn(process.execPath, args, { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  servers.push(child);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'kiln serve ready',
    async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    60_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${log.slice(-3000)}`));
  return { url, log: () => log };
}

async function servedImage(name: string): Promise<string | undefined> {
  try {
    return (await getIsvc(kube, 'prod', name)).spec.predictor.containers[0].image as string;
  } catch {
    return undefined;
  }
}

async function versionTag(name: string, version: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${name}&version=${version}`);
  const body = (await res.json()) as { model_version: { tags?: { key: string; value: string }[] } };
  return body.model_version.tags?.find((t) => t.key === key)?.value;
}

test("an alias move reaches kiln serve through MLflow's webhook and ends as a signed canary on the cluster", async () => {
  // MLflow caches its webhook list (60 s) once any event has fired, so the webhook is created
  // before any alias on this server is set; no alias was set in before().
  const port = await freePort();
  await createWebhook(mlflow, `http://127.0.0.1:${port}/webhooks/mlflow`, SECRET);
  const server = await serve('lead', { webhook: true, interval: 3600, port });
  await setAlias(mlflow, 'lead', 'champion', models[0]!.version);
  // The first alias move (to version 1) arrives as a webhook too.
  await waitFor(
    'version 1 deployed',
    async () => (await versionTag('lead', models[0]!.version, 'kiln.deployed_to')) === 'prod/lead',
    180_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${server.log().slice(-3000)}`));
  const before = await servedImage('lead');

  const t0 = performance.now();
  await setAlias(mlflow, 'lead', 'champion', models[1]!.version);
  let image: string | undefined;
  while (performance.now() - t0 < 120_000) {
    image = await servedImage('lead');
    if (image && image !== before) break;
    await sleep(25);
  }
  const leadMs = performance.now() - t0;
  process.stderr.write(
    `# lead time, alias move -> InferenceService at the new digest (100 MB model, zstd, signed): ${leadMs.toFixed(0)} ms\n`,
  );
  assert.ok(image && image !== before, `the InferenceService never moved:\n${server.log().slice(-3000)}`);
  const digest = await versionTag('lead', models[1]!.version, 'kiln.digest');
  assert.equal(image, `${registry.host}/ml/lead@${digest}`);
  const isvc = await getIsvc(kube, 'prod', 'lead');
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 10);
  // kiln writes Sigstore bundles too: cosign v2.6.3+ then reads them, and offline needs a trusted root.
  await run(
    toolPath('cosign'),
    verifyArgs(join(work.path, 'kiln.pub'), image, ['--trusted-root', await emptyTrustedRoot(work.path)]),
  );
});

test('with webhooks off, the reconciler alone promotes a moved alias within one interval', async () => {
  const interval = 3;
  await setAlias(mlflow, 'polled', 'champion', models[2]!.version);
  const server = await serve('polled', { webhook: false, interval });
  await waitFor('polled v1 deployed', async () => (await servedImage('polled')) !== undefined, 120_000).catch(
    (e: Error) => assert.fail(`${e.message}\n${server.log().slice(-3000)}`),
  );
  const before = await servedImage('polled');
  const t0 = performance.now();
  await setAlias(mlflow, 'polled', 'champion', models[3]!.version);
  await waitFor('polled moved', async () => (await servedImage('polled')) !== before, 60_000).catch(
    (e: Error) => assert.fail(`${e.message}\n${server.log().slice(-3000)}`),
  );
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(
    `# reconciler promoted the moved alias in ${seconds.toFixed(1)} s (interval ${interval} s)\n`,
  );
  assert.equal(
    await servedImage('polled'),
    `${registry.host}/ml/polled@${await versionTag('polled', models[3]!.version, 'kiln.digest')}`,
  );
});
