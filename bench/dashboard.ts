// The dashboard's weight and speed with 200 watched models, in Debian's chromium (headless), against
// a real `kiln serve` reading a real MLflow and a real Kubernetes API server (test rig):
//   node bench/dashboard.ts [--models 200] [--moves 10]
// Each model has two versions in MLflow (tags as kiln writes them, some scanned) and an
// InferenceService (half with a 10% canary). kiln serve runs the test rig's recording promoter
// (test/rig/serve-promoter.ts), so every alias is "promoted" at once without baking 200 images.
// Prints: bytes transferred for the first load of each page (budget 200 KB), time until the 200
// rows are on screen, the cost of a full 200-row render and of a poll, the longest main-thread task
// (RAIL: over 50 ms is felt as lag), and the time to filter. No peer dashboard (Argo Rollouts, Argo
// CD) runs here without a cluster and network, so the figures stand against the budgets instead.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { openKube } from '../src/kserve/client.ts';
import { deployInferenceService } from '../src/kserve/deploy.ts';
import { startBrowser } from '../test/rig/browser.ts';
import { KILN_MAIN, kilnEnv } from '../test/rig/cli.ts';
import { startKube } from '../test/rig/kube.ts';
import { setAlias, startMlflow } from '../test/rig/mlflow.ts';
import { freePort, REPO_ROOT, tempDir } from '../test/rig/proc.ts';
import { waitFor } from '../test/rig/serve.ts';

// The page's globals, for the callbacks that run in the browser (tsconfig has no DOM lib).
declare const document: {
  querySelectorAll(selector: string): { length: number };
  querySelector(selector: string): { textContent: string | null } | null;
  getElementById(id: string): { value: string; dispatchEvent(e: Event): boolean };
  body: { getBoundingClientRect(): unknown };
};

const { values } = parseArgs({
  options: { models: { type: 'string', default: '200' }, moves: { type: 'string', default: '10' } },
});
const N = Number(values.models);
const moves = Number(values.moves);
const names = Array.from({ length: N }, (_, i) => `model-${String(i).padStart(3, '0')}`);
const hex = (s: string) => Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64);

async function mlflowPost(url: string, path: string, body: object): Promise<unknown> {
  const res = await fetch(`${url}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function inParallel<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

const [mlflow, kube, work, browser] = await Promise.all([
  startMlflow(),
  startKube(),
  tempDir('bench-dashboard'),
  startBrowser(),
]);
let server: ReturnType<typeof spawn> | undefined;
try {
  const t0 = performance.now();
  const k = await openKube({ env: { KUBECONFIG: kube.kubeconfigPath } });
  await inParallel(names, 6, async (name) => {
    await mlflowPost(mlflow.url, 'registered-models/create', { name });
    for (const v of ['1', '2']) {
      await mlflowPost(mlflow.url, 'model-versions/create', { name, source: `s3://bench/${name}/${v}` });
      const digest = `sha256:${hex(`${name}/${v}`)}`;
      const tags: Record<string, string> = {
        'kiln.digest': digest,
        'kiln.image': `registry.example/ml/${name}@${digest}`,
        'kiln.signed': 'true',
      };
      if (name.endsWith('7'))
        tags['kiln.scan'] = v === '2' ? 'blocked: GLOBAL os.system in model.pkl' : 'passed';
      for (const [key, value] of Object.entries(tags))
        await mlflowPost(mlflow.url, 'model-versions/set-tag', { name, version: v, key, value });
    }
    await setAlias(mlflow, name, 'champion', '2');
    const ref = { namespace: 'bench', name };
    const image = (v: string) => `registry.example/ml/${name}@sha256:${hex(`${name}/${v}`)}`;
    await deployInferenceService(k, { ...ref, image: image('1'), model: { name, version: '1' } });
    const canary = Number(name.slice(-1)) % 2 === 0 ? 10 : undefined;
    await deployInferenceService(k, {
      ...ref,
      image: image('2'),
      model: { name, version: '2' },
      canaryPercent: canary,
    });
  });
  console.log(
    `# ${N} models in MLflow and ${N} InferenceServices in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await writeFile(
    join(work.path, 'kiln.yaml'),
    stringify({
      models: names.map((name) => ({ name, deploy: { inferenceService: `bench/${name}`, canary: 10 } })),
      server: { listen: `127.0.0.1:${port}`, reconcileInterval: 3600, stateDir: join(work.path, 'state') },
    }),
  );
  server = spawn(
    process.execPath,
    [
      KILN_MAIN,
      'serve',
      '--no-webhook',
      '--config',
      join(work.path, 'kiln.yaml'),
      '--promoter',
      join(REPO_ROOT, 'test/rig/serve-promoter.ts'),
    ],
    {
      cwd: work.path,
      stdio: 'ignore',
      env: kilnEnv({ MLFLOW_TRACKING_URI: mlflow.url, KUBECONFIG: kube.kubeconfigPath }),
    },
  );
  await waitFor(
    'kiln serve promoted every alias',
    async () => {
      const r = await fetch(`${url}/api/models`).catch(() => undefined);
      if (!r?.ok) return false;
      const body = (await r.json()) as {
        models: Array<{ lastPromotion?: { status: string }; serving?: unknown }>;
      };
      return body.models.every((m) => m.lastPromotion?.status === 'succeeded' && m.serving);
    },
    120_000,
  );

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript(() => {
    const w = globalThis as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask' as 'mark', buffered: true });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let transferred = new Map<string, { url: string; bytes: number }>();
  const urls = new Map<string, string>();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) =>
    transferred.set(e.requestId, { url: urls.get(e.requestId) ?? '?', bytes: e.encodedDataLength }),
  );
  const weigh = (label: string) => {
    const rows = [...transferred.values()];
    const total = rows.reduce((n, r) => n + r.bytes, 0);
    const parts = rows.map((r) => `${new URL(r.url).pathname} ${(r.bytes / 1024).toFixed(1)}`).join(', ');
    console.log(
      `first load of ${label}: ${(total / 1024).toFixed(1)} KB transferred in ${rows.length} requests (${parts} KB)`,
    );
    transferred = new Map();
  };

  await page.goto(url);
  await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length === n, N, {
    timeout: 60_000,
  });
  await page.waitForLoadState('networkidle');
  weigh(`/ with ${N} models`);
  const first = await page.evaluate(() => {
    const m = performance.getEntriesByName('kiln:render:models')[0]!;
    return { render: m.duration, shown: m.startTime + m.duration };
  });
  console.log(
    `${N} rows on screen ${first.shown.toFixed(0)} ms after navigation start; that first render took ${first.render.toFixed(1)} ms`,
  );

  // Full re-renders: leave for a model page and come back (the table is rebuilt from scratch).
  for (let i = 0; i < 5; i++) {
    await page.locator('#models-table tbody tr th a').nth(i).click();
    await page.waitForSelector('tr[data-version]');
    await page.goBack();
    await page.waitForFunction((n) => document.querySelectorAll('#models-table tbody tr').length === n, N);
  }
  const renders = await page.evaluate(() =>
    performance.getEntriesByName('kiln:render:models').map((e) => e.duration),
  );
  const sorted = renders.slice(1).sort((a, b) => a - b);
  console.log(
    `full ${N}-row render: n=${sorted.length} median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
  );

  // Freshness while polling: promote canaries one by one (as `kiln rollout promote` would) and
  // time how long each takes to show on the open page; meanwhile record renders and long tasks.
  const before = renders.length;
  await page.evaluate(() => {
    (globalThis as unknown as { longTasks: number[] }).longTasks = [];
  });
  let answers = { full: 0, notModified: 0 };
  cdp.on('Network.responseReceived', (e) => {
    if (!e.response.url.endsWith('/api/models')) return;
    if (e.response.status === 304) answers.notModified++;
    else answers.full++;
  });
  answers = { full: 0, notModified: 0 };
  const latencies: number[] = [];
  const t1 = performance.now();
  for (const name of names.filter((n) => Number(n.slice(-1)) % 2 === 0).slice(0, moves)) {
    await deployInferenceService(k, {
      namespace: 'bench',
      name,
      image: `registry.example/ml/${name}@sha256:${hex(`${name}/2`)}`,
      model: { name, version: '2' },
    });
    const t = performance.now();
    await page.waitForFunction(
      (n) => document.querySelector(`tr[data-model="${n}"] td:nth-of-type(3)`)?.textContent === 'none',
      name,
      { timeout: 60_000, polling: 50 },
    );
    latencies.push(performance.now() - t);
  }
  const spanS = (performance.now() - t1) / 1000;
  const polled = await page.evaluate((skip) => {
    const all = performance.getEntriesByName('kiln:render:models').map((e) => e.duration);
    return {
      renders: all.slice(skip),
      longTasks: (globalThis as unknown as { longTasks: number[] }).longTasks,
    };
  }, before);
  const pr = [...polled.renders].sort((a, b) => a - b);
  const ls = [...latencies].sort((a, b) => a - b);
  console.log(
    `${moves} canaries promoted one by one (${spanS.toFixed(1)} s): on screen after median ${(ls[Math.floor(ls.length / 2)]! / 1000).toFixed(1)} s, max ${(ls.at(-1)! / 1000).toFixed(1)} s (poll 2 s + kiln serve's read of ${N} models)`,
  );
  console.log(
    `  meanwhile: /api/models answered ${answers.full}x 200 and ${answers.notModified}x 304; ${pr.length} re-renders, median ${pr[Math.floor(pr.length / 2)]?.toFixed(1) ?? '-'} ms, max ${pr.at(-1)?.toFixed(1) ?? '-'} ms; long tasks (> 50 ms): ${polled.longTasks.length ? polled.longTasks.map((d) => d.toFixed(0)).join(', ') : 'none'}`,
  );

  const filter = await page.evaluate(() => {
    const input = document.getElementById('filter');
    const steps = ['m', 'model-1', 'model-19', 'model-199', ''];
    const runs: number[][] = steps.map(() => []);
    for (let round = 0; round < 5; round++) {
      for (const [i, text] of steps.entries()) {
        const t = performance.now();
        input.value = text;
        input.dispatchEvent(new Event('input'));
        document.body.getBoundingClientRect(); // include the layout the change causes
        runs[i]!.push(performance.now() - t);
      }
    }
    // The median of 5 rounds per keystroke: a shared machine adds outliers.
    return runs.map((r) => r.sort((a, b) => a - b)[2]!);
  });
  console.log(
    `filter keystrokes m, model-1, model-19, model-199, cleared, over ${N} rows (incl. layout, median of 5): ${filter.map((t) => t.toFixed(1)).join(', ')} ms`,
  );

  transferred = new Map();
  const context2 = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page2 = await context2.newPage();
  const cdp2 = await context2.newCDPSession(page2);
  await cdp2.send('Network.enable');
  cdp2.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp2.on('Network.loadingFinished', (e) =>
    transferred.set(e.requestId, { url: urls.get(e.requestId) ?? '?', bytes: e.encodedDataLength }),
  );
  await page2.goto(`${url}/models/${names[0]}`);
  await page2.waitForSelector('tr[data-version]');
  await page2.waitForLoadState('networkidle');
  weigh('/models/NAME (new browser context: empty cache)');
  await page2.goto(`${url}/promotions/1`);
  await page2.waitForSelector('.facts');
  await page2.waitForLoadState('networkidle');
  weigh('/promotions/1 (then, same tab: the shell revalidated, 304)');
} finally {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('close', r));
  }
  await browser.close();
  await Promise.all([mlflow.stop(), kube.stop()]);
  await work.remove();
}
