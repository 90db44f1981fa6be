// Canary analysis: how fast a bad canary is aborted, how often a good one is (false aborts), how
// many bad ones get through, and what a check costs.
//   node bench/analysis.ts [--runs 20] [--many 1000] [--real 3] [--interval 6]
// Part 1, synthetic series through the pure judge and step machine (src/analysis/judge.ts,
// steps.ts): 20 req/s total, steps 10/25/50%, a 60 s interval, 0.5% baseline errors, per-request
// latencies lognormal (median 10 ms, sigma 0.4) binned into Knative's histogram buckets. Scenarios: A/A, 5% errors, 2% errors, 1.5x and 1.3x
// slower. Side by side, a Flagger-style rule on the SAME series (Flagger's built-in checks, emulated
// here: canary alone, success rate >= 99% and p99 <= 1.25x the normal p99 over the last interval,
// no data counts as a failed check, rollback at threshold 1; Flagger itself cannot drive an
// InferenceService, so its rule is what is compared, not the tool).
// Part 2, real loop (--real N, 0 to skip): real Prometheus scraping queue-proxy stand-ins, a real
// Kubernetes API with KServe's CRD, status and routing as test/integration/analysis.test.ts does;
// upstream model servers are small Node servers here (answer, delay and error rate under control;
// the real sklearn runtime is exercised by the integration test). N A/A runs, one 10%-error run and
// one +60 ms run; time from the first step to abort in intervals, and CPU per analysis turn.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { beginAnalysis, controllerDeps, tick } from '../src/analysis/index.ts';
import { judge, worst } from '../src/analysis/judge.ts';
import { binnedQuantile } from '../src/analysis/stats.ts';
import { decide, isFinished, startAnalysis } from '../src/analysis/steps.ts';
import type { AnalysisState, Verdict } from '../src/analysis/types.ts';
import { CheckSchema, resolvePolicy } from '../src/config/rollout.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { openKube } from '../src/kserve/client.ts';
import { deployInferenceService } from '../src/kserve/deploy.ts';
import { fakeKserve, type RevisionEndpoint } from '../test/rig/knative-router.ts';
import { getIsvc, startKube } from '../test/rig/kube.ts';
import { startPrometheus } from '../test/rig/prometheus.ts';
import { startQueueProxy } from '../test/rig/queue-proxy.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    many: { type: 'string', default: '1000' },
    real: { type: 'string', default: '3' },
    interval: { type: 'string', default: '6' },
  },
});

// ---------- part 1: synthetic ----------
// mulberry32: a small seeded PRNG with good low bits (a plain LCG's correlated pairs skew Box-Muller).
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const poisson = (l: number) => Math.max(0, Math.round(l + Math.sqrt(l) * gauss()));
const binom = (n: number, p: number) => poisson(n * p);

interface Bad {
  errors: number;
  slow: number;
}
const SCENARIOS: Array<[string, Bad]> = [
  ['A/A', { errors: 0.005, slow: 1 }],
  ['errors 5%', { errors: 0.05, slow: 1 }],
  ['errors 2%', { errors: 0.02, slow: 1 }],
  ['slow 1.5x', { errors: 0.005, slow: 1.5 }],
  ['slow 1.3x', { errors: 0.005, slow: 1.3 }],
];
const RPS = 20;
const policy = resolvePolicy({ steps: [10, 25, 50], interval: 60, agreement: { enabled: false } });
const sr = CheckSchema.parse({ type: 'success-rate' });
const lat = CheckSchema.parse({ type: 'latency' });
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Number.POSITIVE_INFINITY];
/** n requests' latencies binned as a Prometheus histogram over the window. */
const histogram = (n: number, factor: number) => {
  const counts = BOUNDS.map(() => 0);
  for (let i = 0; i < n; i++) {
    const v = 0.01 * factor * Math.exp(0.4 * gauss());
    const b = BOUNDS.findIndex((le) => v <= le);
    counts[b] = (counts[b] ?? 0) + 1;
  }
  return counts;
};
const quantile99 = (h: number[]) =>
  binnedQuantile(
    0.99,
    BOUNDS.map((le, i) => ({ le, count: h[i] ?? 0 })),
  );
const P99 = quantile99(histogram(100_000, 1));

let judgeCpuUs = 0;
let judgements = 0;
function kilnRun(bad: Bad): { outcome: 'promoted' | 'aborted'; intervals: number } {
  let s: AnalysisState = startAnalysis(
    { namespace: 'b', name: 'm', model: 'm', version: '2', image: 'i' },
    policy,
    0,
  );
  let t = 0;
  let intervals = 0;
  let stepSeconds = 0;
  while (!isFinished(s)) {
    t += policy.interval * 1000;
    intervals++;
    stepSeconds += policy.interval;
    const pct = (policy.steps[s.stepIndex] as number) / 100;
    const nc = poisson(RPS * pct * stepSeconds);
    const np = poisson(RPS * (1 - pct) * stepSeconds);
    const c0 = process.cpuUsage();
    const ctx = { alpha: policy.alpha, minRequests: policy.minRequests, minSamples: 5, at: '', queries: [] };
    const r1 = judge(
      sr,
      {
        kind: 'counts',
        canary: { total: nc, failed: binom(nc, bad.errors) },
        primary: { total: np, failed: binom(np, 0.005) },
      },
      ctx,
    );
    const r2 = judge(
      lat,
      { kind: 'histograms', bounds: BOUNDS, canary: histogram(nc, bad.slow), primary: histogram(np, 1) },
      ctx,
    );
    const verdict: Verdict = worst([r1.verdict, r2.verdict]);
    const out = decide(s, verdict, policy, t, '');
    const c1 = process.cpuUsage(c0);
    judgeCpuUs += c1.user + c1.system;
    judgements++;
    if (out.action === 'advance') stepSeconds = 0;
    s = out.state;
  }
  return { outcome: s.phase === 'promoted' ? 'promoted' : 'aborted', intervals };
}

/** Flagger's rule on the same traffic: the last interval only, canary alone, no data = failed check. */
function flaggerRun(bad: Bad): { outcome: 'promoted' | 'aborted'; intervals: number } {
  let intervals = 0;
  for (const step of policy.steps) {
    intervals++;
    const n = poisson(RPS * (step / 100) * policy.interval);
    const failed = binom(n, bad.errors);
    const h = histogram(n, bad.slow); // the interval's histogram_quantile over the canary's requests
    const p99 = binnedQuantile(
      0.99,
      BOUNDS.map((le, i) => ({ le, count: h[i] ?? 0 })),
    );
    const ok = n > 0 && 1 - failed / n >= 0.99 && p99 <= 1.25 * P99;
    if (!ok) return { outcome: 'aborted', intervals };
  }
  return { outcome: 'promoted', intervals };
}

function table(runs: number): void {
  console.log(
    `\n${runs} runs per scenario (synthetic, ${RPS} req/s, steps ${policy.steps.join('/')}%, interval ${policy.interval}s)`,
  );
  console.log(
    'scenario     | kiln: promoted aborted  abort after (intervals, mean/max) | flagger-style: promoted aborted  abort after (mean/max)',
  );
  for (const [name, bad] of SCENARIOS) {
    const k = Array.from({ length: runs }, () => kilnRun(bad));
    const f = Array.from({ length: runs }, () => flaggerRun(bad));
    const line = (rs: typeof k) => {
      const ab = rs.filter((r) => r.outcome === 'aborted');
      const mean = ab.length ? (ab.reduce((a, r) => a + r.intervals, 0) / ab.length).toFixed(2) : '-';
      const max = ab.length ? Math.max(...ab.map((r) => r.intervals)) : '-';
      return `${String(rs.length - ab.length).padStart(8)} ${String(ab.length).padStart(7)}  ${String(mean).padStart(6)}/${max}`;
    };
    console.log(`${name.padEnd(12)} | ${line(k)}                                | ${line(f)}`);
  }
}

table(Number(values.runs));
table(Number(values.many));
console.log(
  `\njudge + step decision CPU: ${(judgeCpuUs / judgements).toFixed(1)} µs per interval (2 checks), ${judgements} judgements`,
);

// ---------- part 2: real loop ----------
const realRuns = Number(values.real);
if (realRuns > 0) {
  const interval = Number(values.interval);
  const [kube, prom] = await Promise.all([startKube(), startPrometheus()]);
  const servers: Array<{ close: () => void }> = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    const env = { ...process.env, KUBECONFIG: kube.kubeconfigPath };
    const k = await openKube({ env });
    const targets: Parameters<typeof prom.setTargets>[0] = [];
    const upstream = async (delayMs: number, errorRate: number) => {
      const s = createServer((req, res) => {
        req.resume();
        req.on('end', () =>
          setTimeout(
            () => {
              if (Math.random() < errorRate) res.writeHead(500).end('{"error":"boom"}');
              else res.writeHead(200, { 'content-type': 'application/json' }).end('{"predictions":[1]}');
            },
            delayMs + Math.random() * 3,
          ),
        );
      });
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    };
    const cases: Array<[string, number, number]> = [
      ...Array.from({ length: realRuns }, (_, i) => [`A/A #${i + 1}`, 2, 0] as [string, number, number]),
      ['errors 10%', 2, 0.1],
      ['slow +60ms', 62, 0],
    ];
    console.log(`\nreal loop: Prometheus + Kubernetes API, interval ${interval}s, steps 25/50%, 40 req/s`);
    let i = 0;
    for (const [label, delay, errors] of cases) {
      const ns = `bench-${i++}`;
      const ref = { namespace: ns, name: 'm' };
      const endpoints = new Map<string, RevisionEndpoint>();
      const images = ['1', '2'].map((c) => `127.0.0.1:5000/ml/m@sha256:${c.repeat(64)}`);
      for (const [j, img] of images.entries()) {
        const qp = await startQueueProxy(await upstream(j === 0 ? 2 : delay, j === 0 ? 0 : errors));
        stops.push(qp.stop);
        endpoints.set(img, { url: qp.url });
        targets.push({
          address: qp.metricsAddress,
          namespace: ns,
          revision: `m-predictor-0000${j + 1}`,
          container: 'queue-proxy',
        });
      }
      await prom.setTargets(targets);
      await deployInferenceService(k, { ...ref, image: images[0] as string, mode: 'baked' });
      const fake = fakeKserve(kube, ns, 'm', endpoints, () => [1, 2, 3, 4], 40);
      while ((await getIsvc(kube, ns, 'm')).status?.observedGeneration !== 1)
        await new Promise((r) => setTimeout(r, 100));
      await deployInferenceService(k, {
        ...ref,
        image: images[1] as string,
        mode: 'baked',
        canaryPercent: 0,
      });
      const config = ConfigSchema.parse({});
      const pol = resolvePolicy({
        steps: [25, 50],
        interval,
        minRequests: 20,
        scrapeInterval: 1,
        warmup: 1,
        inconclusiveLimit: 4,
        agreement: { enabled: false },
        prometheus: { url: prom.url },
        checks: [
          CheckSchema.parse({ type: 'success-rate' }),
          CheckSchema.parse({ type: 'latency', maxIncrease: 1.5 }),
        ],
      });
      const deps = controllerDeps({
        config,
        kube: k,
        model: undefined,
        version: undefined,
        policy: pol,
        mlflow: undefined,
      });
      let s = await beginAnalysis(deps, ref);
      const t0 = Date.now();
      let cpu = 0;
      let ticks = 0;
      while (!isFinished(s)) {
        const wait = s.nextCheckAt - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const c0 = process.cpuUsage();
        const r = await tick(s, deps);
        const c = process.cpuUsage(c0);
        cpu += c.user + c.system;
        ticks++;
        if (r.kind !== 'decided') break;
        s = r.state;
      }
      await fake.stop();
      const took = (Date.now() - t0) / 1000;
      console.log(
        `${label.padEnd(12)} ${s.phase.padEnd(9)} after ${took.toFixed(1)} s = ${(took / interval).toFixed(2)} intervals; ${ticks} turns, CPU ${(cpu / ticks / 1000).toFixed(1)} ms per turn (upper bound: load driver and stand-in servers share this process)${s.phase === 'aborted' ? `; ${s.reason}` : ''}`,
      );
    }
  } finally {
    for (const s of servers) s.close();
    for (const stop of stops) await stop();
    await Promise.all([kube.stop(), prom.stop()]);
  }
}
