// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against
// a real `kiln serve` process: MLflow's own webhook moves promotions, the real pipeline bakes,
// pushes, signs and deploys a canary to the Kubernetes API server with KServe's CRD. Each test
// checks what a person sees on the page and what changed (or did not) on the InferenceService.
// Screenshots of every page go to out/screenshots/ (gitignored) to be looked at.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { SCREENSHOTS, startBrowser } from '../rig/browser.ts';
import { KILN_MAIN, kiln, kilnEnv } from '../rig/cli.ts';
import { type PushedImage, pushBusyboxBase } from '../rig/images.ts';
import { getIsvc, type KubeRig, startKube } from '../rig/kube.ts';
import { type LoggedFixture, logModels, type MlflowRig, setAlias, startMlflow } from '../rig/mlflow.ts';
import { freePort, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { createWebhook, mlflowWebhookEnv, waitFor } from '../rig/serve.ts';

const SECRET = 'dashboard-webhook-secret';
const PASSWORD = 'dashboard-key-password';
const TOKEN = 'alice-token-0123456789abcdef';
const MODEL = 'fraud';
let mlflow: MlflowRig;
let registry: RegistryRig;
let kube: KubeRig;
let base: PushedImage;
let work: { path: string; remove: () => Promise<void> };
let versions: LoggedFixture[];
let server: ChildProcess | undefined;
let serverLog = '';
let url: string;
let browser: Browser;
let page: Page;
let evil: Server | undefined;
/** Script errors and console errors on kiln's pages (the refused requests' 401/403 aside). */
const pageErrors: string[] = [];

before(async () => {
  [mlflow, registry, kube, work, browser] = await Promise.all([
    startMlflow({ env: mlflowWebhookEnv() }),
    startRegistry(),
    startKube(),
    tempDir('serve-dashboard'),
    startBrowser(),
  ]);
  versions = (await logModels(mlflow, [
    { name: MODEL },
    { name: MODEL },
    { name: MODEL },
    { name: MODEL },
  ])) as LoggedFixture[];
  base = await pushBusyboxBase(registry);
  const keygen = await kiln(['keygen', '--output-key-prefix', join(work.path, 'kiln')], {
    env: kilnEnv({ COSIGN_PASSWORD: PASSWORD }),
  });
  assert.equal(keygen.code, 0, keygen.stderr);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // MLflow caches its webhook list once an event fired: create it before any alias is set.
  await createWebhook(mlflow, `${url}/webhooks/mlflow`, SECRET);
  const config = {
    build: { base: base.ref, compression: 'zstd' },
    models: [
      {
        name: MODEL,
        target: `${registry.host}/ml/${MODEL}`,
        signKey: join(work.path, 'kiln.key'),
        deploy: { inferenceService: `prod/${MODEL}`, canary: 10 },
      },
    ],
    // Alias moves arrive by webhook; the reconciler would retry a failed promotion by itself.
    server: { listen: `127.0.0.1:${port}`, reconcileInterval: 3600, stateDir: join(work.path, 'state') },
  };
  await writeFile(join(work.path, 'kiln.yaml'), stringify(config));
  server = spawn(process.execPath, [KILN_MAIN, 'serve', '--config', join(work.path, 'kiln.yaml')], {
    cwd: work.path,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: kilnEnv({
      MLFLOW_TRACKING_URI: mlflow.url,
      KUBECONFIG: kube.kubeconfigPath,
      COSIGN_PASSWORD: PASSWORD,
      KILN_WEBHOOK_SECRET: SECRET,
      KILN_DASHBOARD_TOKENS: `alice:${TOKEN}`,
    }),
  });
  server.stderr?.on('data', (d: Buffer) => {
    serverLog += d.toString();
  });
  await waitFor(
    'kiln serve ready',
    async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    60_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${serverLog.slice(-3000)}`));
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    locale: 'en-US',
    timezoneId: 'Asia/Tokyo',
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(m.text());
  });
});

after(async () => {
  await browser?.close();
  evil?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('close', r));
  }
  await Promise.all([mlflow?.stop(), registry?.stop(), kube?.stop()]);
  await work?.remove();
});

async function isvc(): Promise<{ image: string; canary: number | undefined; rv: string }> {
  const o = await getIsvc(kube, 'prod', MODEL);
  return {
    image: o.spec.predictor.containers[0].image as string,
    canary: o.spec.predictor.canaryTrafficPercent as number | undefined,
    rv: o.metadata.resourceVersion as string,
  };
}

async function digestOf(version: string): Promise<string> {
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=${MODEL}&version=${version}`);
  const body = (await res.json()) as { model_version: { tags?: { key: string; value: string }[] } };
  const d = body.model_version.tags?.find((t) => t.key === 'kiln.digest')?.value;
  assert.ok(d, `version ${version} has no kiln.digest tag`);
  return d;
}

const short = (digest: string) => digest.replace('sha256:', '').slice(0, 12);
const row = () => page.locator(`tr[data-model="${MODEL}"]`);
const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
const fail = (e: Error) => assert.fail(`${e.message}\nkiln serve log:\n${serverLog.slice(-3000)}`);

/** Wait until `locator` shows `text` (the page updates itself; nothing here reloads it). */
async function shows(
  locator: ReturnType<Page['locator']>,
  text: string | RegExp,
  timeout = 90_000,
): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ timeout }).catch(fail);
}

test('the models page shows a promotion that just happened', async () => {
  await page.goto(url);
  await page.evaluate(() => {
    (globalThis as unknown as { loadedOnce: number }).loadedOnce = 1;
  });
  await shows(row(), /@champion not set[\s\S]*none yet/, 20_000);
  await setAlias(mlflow, MODEL, 'champion', versions[0]!.version);
  await shows(row(), 'succeeded');
  const digest = await digestOf(versions[0]!.version);
  // What serves is read from the cluster every few seconds: wait for it too.
  await shows(row(), new RegExp(`v${versions[0]!.version} ${short(digest)} 100%`), 20_000);
  const text = await row().innerText();
  assert.match(text, new RegExp(`@champion → v${versions[0]!.version}`));
  assert.match(text, new RegExp(`v${versions[0]!.version} ${short(digest)} 100%`), text);
  assert.match(text, /signed/);
  // The bake scanned the model files as they streamed (MLflow's kiln.scan tag): an ordinary model.
  assert.match(text, /passed/);
  // Times in the browser's time zone (the context runs in Tokyo; kiln serve in UTC).
  const api = (await (await fetch(`${url}/api/models`)).json()) as {
    models: Array<{ lastPromotion: { finishedAt: number } }>;
  };
  const tokyo = new Intl.DateTimeFormat('en-US', {
    dateStyle: 'medium',
    timeStyle: 'medium',
    timeZone: 'Asia/Tokyo',
  });
  // Node and chromium may space "3:05:34 PM" with U+202F or a plain space: compare words.
  const words = (t: string) => t.replace(/\s+/g, ' ');
  const when = words(tokyo.format(api.models[0]!.lastPromotion.finishedAt));
  assert.ok(words(text).includes(when), `"${when}" not in "${words(text)}"`);
  assert.equal(await page.locator('#tz').innerText(), 'Times in Asia/Tokyo');
  assert.equal((await isvc()).image, `${registry.host}/ml/${MODEL}@${digest}`);
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { loadedOnce?: number }).loadedOnce),
    1,
    'the page reloaded',
  );
  await shot('models');
});

test("a canary's state changes on screen without a reload", async () => {
  await setAlias(mlflow, MODEL, 'champion', versions[1]!.version);
  const canaryCell = row().locator('td').nth(2);
  await shows(canaryCell, `v${versions[1]!.version}`);
  const digest = await digestOf(versions[1]!.version);
  assert.match(await canaryCell.innerText(), new RegExp(`${short(digest)} 10%`));
  assert.match(
    await row().locator('td').nth(1).innerText(),
    new RegExp(`v${versions[0]!.version} \\w{12} 90%`),
  );
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { loadedOnce?: number }).loadedOnce),
    1,
    'the page reloaded',
  );
  await shot('models-canary');
  // The promotion page, reached by its link: every stage with a time.
  await row().locator('a[href^="/promotions/"]').click();
  await shows(page.locator('tr[data-stage="deploy"]'), /\d+ (ms|s)/, 20_000);
  for (const stage of ['resolve', 'download', 'bake', 'push', 'sign', 'deploy']) {
    assert.match(await page.locator(`tr[data-stage="${stage}"]`).innerText(), /\d+(\.\d+)? (ms|s)/, stage);
  }
  assert.match(await page.locator('tr[data-stage="download"]').innerText(), /\d+(\.\d)? (B|KiB)/);
  assert.match(await page.locator('.logs').innerText(), /resolved models:\//);
  assert.equal(new URL(page.url()).pathname.startsWith('/promotions/'), true);
  await shot('promotion');
});

test('an action without a token is refused and changes nothing', async () => {
  const before = await isvc();
  assert.equal(before.canary, 10);
  await page.goto(`${url}/models/${MODEL}`);
  await page.getByRole('button', { name: 'Promote canary' }).click();
  await page.locator('#confirm-ok').click();
  // No token stored: the page asks for one instead of acting.
  await page.locator('#token-dialog[open]').waitFor({ timeout: 5000 });
  await page.locator('#token-cancel').click();
  const answers = await page.evaluate(async (model) => {
    const post = (headers: Record<string, string>) =>
      fetch(`/api/models/${model}/promote`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } }));
    return [await post({}), await post({ authorization: 'Bearer not-a-configured-token-at-all' })];
  }, MODEL);
  assert.deepEqual(
    answers.map((a) => [a.status, a.body.error]),
    [
      [401, 'no_token'],
      [401, 'bad_token'],
    ],
  );
  assert.deepEqual(await isvc(), before, 'the InferenceService changed');
  const api = (await (await fetch(`${url}/api/models/${MODEL}`)).json()) as { actions: unknown[] };
  assert.deepEqual(api.actions, [], 'a refused action was recorded as taken');
});

test('a cross-site form post is refused', async () => {
  const before = await isvc();
  const evilPort = await freePort();
  // The classic JSON CSRF: a text/plain form whose single field spells a JSON object.
  const html = `<!doctype html><form method="post" enctype="text/plain" action="${url}/api/models/${MODEL}/abort">
    <input type="hidden" name='{"reason":"csrf","x":"' value='"}'></form>
    <script>document.forms[0].submit()</script>`;
  evil = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((r) => evil?.listen(evilPort, '127.0.0.1', r));
  const answer = page.waitForResponse((r) => r.url().endsWith(`/api/models/${MODEL}/abort`));
  await page.goto(`http://127.0.0.1:${evilPort}/`);
  const res = await answer;
  assert.equal(res.status(), 403);
  assert.equal(((await res.json()) as { error: string }).error, 'cross_site');
  await page.waitForLoadState();
  await shot('cross-site-refused');
  assert.deepEqual(await isvc(), before, 'the InferenceService changed');
});

async function signIn(): Promise<void> {
  await page.goto(`${url}/models/${MODEL}`);
  await page.getByRole('button', { name: 'Sign in to act' }).click();
  await page.locator('#token-input').fill(TOKEN);
  await page.keyboard.press('Enter');
  await shows(page.locator('#session'), 'acting as alice', 5000);
}

test('promote, abort and rollback from the page change the InferenceService', async () => {
  await signIn();
  const v2 = await digestOf(versions[1]!.version);
  // Promote the canary (v2 at 10%): all traffic to v2.
  await page.getByRole('button', { name: 'Promote canary' }).click();
  await page.locator('#confirm-ok').click();
  await shows(page.locator('#notice'), 'Promote done by alice');
  assert.deepEqual(await isvc().then(({ image, canary }) => ({ image, canary })), {
    image: `${registry.host}/ml/${MODEL}@${v2}`,
    canary: undefined,
  });
  await shows(page.locator(`tr[data-version="${versions[1]!.version}"]`), /promoted\s+alice/);

  // A new canary (v3), aborted with a reason, keyboard only.
  await setAlias(mlflow, MODEL, 'champion', versions[2]!.version);
  await shows(page.locator('#canary'), `v${versions[2]!.version}`);
  await page.getByRole('button', { name: 'Abort canary' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#confirm-reason').fill('p99 latency doubled');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await shows(page.locator('#notice'), 'Abort done by alice');
  assert.equal((await isvc()).canary, 0);
  await shows(
    page.locator(`tr[data-version="${versions[2]!.version}"]`),
    /aborted\s+alice[\s\S]*p99 latency doubled/,
  );

  // Roll back to v1's digest, chosen from the recorded history.
  const v1 = await digestOf(versions[0]!.version);
  await page.locator('#rollback-target').selectOption(v1);
  await page.getByRole('button', { name: 'Roll back' }).click();
  await page.locator('#confirm-reason').fill('back to the last good one');
  await page.locator('#confirm-ok').click();
  await shows(page.locator('#notice'), 'Rollback done by alice');
  assert.deepEqual(await isvc().then(({ image, canary }) => ({ image, canary })), {
    image: `${registry.host}/ml/${MODEL}@${v1}`,
    canary: undefined,
  });
  await shows(page.locator(`tr[data-version="${versions[0]!.version}"]`), /rolled-back-to\s+alice/);
  const api = (await (await fetch(`${url}/api/models/${MODEL}`)).json()) as {
    actions: Array<{ who: string; action: string; result: string }>;
  };
  assert.deepEqual(
    api.actions.map((a) => `${a.who} ${a.action} ${a.result}`),
    ['alice rollback done', 'alice abort done', 'alice promote done'],
  );
  await shot('model');
});

test('a failed promotion shows its error and hint, and Retry from the page finishes it', async () => {
  await kube.stopApiServer();
  try {
    await setAlias(mlflow, MODEL, 'champion', versions[3]!.version);
    const failed = await waitFor(
      'a failed promotion',
      async () => {
        const r = (await (await fetch(`${url}/api/models/${MODEL}`)).json()) as {
          promotions: Array<{ id: number; version: string; status: string }>;
        };
        const p = r.promotions[0];
        return p?.version === versions[3]!.version && p.status === 'failed' ? p : undefined;
      },
      90_000,
    ).catch(fail);
    await page.goto(`${url}/promotions/${failed.id}`);
    await shows(page.locator('.errorbox'), 'KUBE_UNREACHABLE', 10_000);
    assert.match(await page.locator('.errorbox').innerText(), /Hint: check the API server is up/);
    // The cluster is checked before the first byte moves: the promotion fails while resolving,
    // and the page shows that stage failing and no bake, push or sign having started.
    assert.match(
      await page.locator('tr[data-stage="resolve"]').innerText(),
      /ECONNREFUSED|unreachable|cannot/i,
    );
    assert.equal(await page.locator('tr[data-stage="sign"]').count(), 0);
    await shot('promotion-failed');
  } finally {
    await kube.startApiServer();
  }
  await page.getByRole('button', { name: 'Retry promotion' }).click();
  await page.locator('#confirm-ok').click();
  await shows(page.locator('#notice'), 'Retry done by alice');
  // The retry bakes v4 (the first attempt stopped before any byte moved), then deploys it.
  const v4 = await waitFor(
    'v4 baked by the retry',
    () => digestOf(versions[3]!.version).catch(() => undefined),
    90_000,
  ).catch(fail);
  await waitFor('v4 deployed as a canary', async () => (await isvc()).image.endsWith(v4), 90_000).catch(fail);
  assert.equal((await isvc()).canary, 10);
  assert.deepEqual(pageErrors, [], 'the pages logged errors');
});
