// Webhook endpoint throughput and latency: `kiln serve` runs as its own process (pinned to one
// CPU with taskset when available) with a no-op promoter (test/rig/serve-promoter.ts via
// --promoter), so what is measured is the endpoint: read the body, verify the HMAC, parse, dedupe
// and coalesce in one SQLite transaction, log, answer 202. The load generator is this process,
// with bounded concurrency and a bounded number of requests, over keep-alive loopback HTTP. It
// signs each delivery just before sending it (~10 µs, on its own core): holding tens of thousands
// of pre-signed deliveries made its own GC pauses show up as server latency.
//   node bench/webhook.ts [--n 20000] [--concurrency 8] [--rate 2000] [--paced 10000] [--promoter-ms 0]
// 1. closed loop: --n deliveries, --concurrency in flight: the most deliveries/s it sustains;
// 2. paced: --paced deliveries sent at --rate per second (latency counted from the scheduled send
//    time, so a stall is not hidden by the generator waiting): p99 at the target rate.
// Every delivery moves a model's alias to a new version, so each one is queued and (superseding
// or not) promoted. With the default no-op promoter that returns at once, every delivery also
// costs a promotion's bookkeeping (claim, record, two log lines); --promoter-ms 1000 makes the
// no-op take a second, as real promotions take seconds, so bursts coalesce as they would in use.
// Target: 2,000 deliveries/s with p99 under 10 ms on one core, verification included.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KILN_MAIN, kilnEnv } from '../test/rig/cli.ts';
import { freePort, httpOk, REPO_ROOT, sleep, tempDir } from '../test/rig/proc.ts';
import { type Delivery, signedDelivery } from '../test/rig/serve.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '8' },
    rate: { type: 'string', default: '2000' },
    paced: { type: 'string', default: '10000' },
    'promoter-ms': { type: 'string', default: '0' },
  },
});
const N = Number(values.n);
const CONCURRENCY = Number(values.concurrency);
const RATE = Number(values.rate);
const PACED = Number(values.paced);
const PROMOTER_MS = Number(values['promoter-ms']);
const WARMUP = 1000;
const SECRET = 'bench-secret';
const MODELS = Array.from({ length: 20 }, (_, i) => `bench-model-${i}`);

const haveTaskset = spawnSync('taskset', ['--version']).status === 0;
const dir = await tempDir('bench-webhook');
const port = await freePort();
await writeFile(
  join(dir.path, 'kiln.yaml'),
  `models:\n${MODELS.map((m) => `  - name: ${m}\n`).join('')}server:\n  listen: 127.0.0.1:${port}\n  stateDir: ./state\n  reconcileInterval: 3600\n`,
);
const kilnArgs = [KILN_MAIN, 'serve', '--promoter', join(REPO_ROOT, 'test', 'rig', 'serve-promoter.ts')];
// The server's stderr goes straight to a file: relayed through this (busy) process, a full pipe
// would stall the server's synchronous log writes and the bench would measure the relay.
const logFd = openSync(join(dir.path, 'serve.log'), 'w');
const server = spawn(
  haveTaskset ? 'taskset' : process.execPath, // taskset execs node: same pid
  haveTaskset ? ['-c', '1', process.execPath, ...kilnArgs] : kilnArgs,
  {
    cwd: dir.path,
    stdio: ['ignore', logFd, logFd],
    env: kilnEnv({
      KILN_WEBHOOK_SECRET: SECRET,
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${await freePort()}`,
      KILN_TEST_PROMOTER_DELAY_MS: String(PROMOTER_MS),
    }),
  },
);
const exited = new Promise((r) => server.once('exit', r));
for (let i = 0; !(await httpOk(`http://127.0.0.1:${port}/healthz`).catch(() => false)); i++) {
  if (i > 300 || server.exitCode !== null) throw new Error(readFileSync(join(dir.path, 'serve.log'), 'utf8'));
  await sleep(100);
}
// keep the generator off the server's core
if (haveTaskset) spawnSync('taskset', ['-cp', '0', String(process.pid)]);

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
let seq = 0;
/** Every delivery is new and moves a model's alias forward: the full accept path, every time. */
function nextDelivery(): Delivery {
  const i = seq++;
  return signedDelivery(SECRET, {
    name: MODELS[i % MODELS.length]!,
    version: String(Math.floor(i / MODELS.length) + 1),
  });
}

function post(d: Delivery): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/webhooks/mlflow', method: 'POST', agent, headers: d.headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(d.body);
  });
}

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime, stime in clock ticks (100/s on Linux)
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Busy seconds of one CPU from /proc/stat (user..steal, not idle/iowait). */
function cpuBusySeconds(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** How much of the server's CPU others (other processes, interrupts, the VM host) took meanwhile. */
function othersShare(busy0: number, own: number, seconds: number): string {
  if (!haveTaskset) return '';
  const others = Math.max(0, cpuBusySeconds(1) - busy0 - own) / seconds;
  return `; others used ${(others * 100).toFixed(0)}% of CPU 1 meanwhile`;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return `p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, max ${s.at(-1)!.toFixed(2)} ms`;
}

async function closedLoop(n: number): Promise<{ ms: number[]; seconds: number }> {
  const ms: number[] = [];
  let next = 0;
  let bad = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) {
        const d = nextDelivery();
        const s = performance.now();
        if ((await post(d)) !== 202) bad++;
        ms.push(performance.now() - s);
      }
    }),
  );
  if (bad > 0) throw new Error(`${bad} deliveries were not answered 202`);
  return { ms, seconds: (performance.now() - t0) / 1000 };
}

async function paced(n: number): Promise<{ ms: number[]; seconds: number }> {
  const ms: number[] = [];
  const interval = 1000 / RATE;
  let inFlight = 0;
  let bad = 0;
  const t0 = performance.now();
  const done: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + i * interval;
    while (performance.now() < due || inFlight >= CONCURRENCY * 4) await new Promise((r) => setImmediate(r));
    inFlight++;
    done.push(
      post(nextDelivery()).then((status) => {
        if (status !== 202) bad++;
        ms.push(performance.now() - due);
        inFlight--;
      }),
    );
  }
  await Promise.all(done);
  if (bad > 0) throw new Error(`${bad} deliveries were not answered 202`);
  return { ms, seconds: (performance.now() - t0) / 1000 };
}

try {
  const serverPid = server.pid!;
  console.log(
    `kiln serve pid ${serverPid}, no-op promoter taking ${PROMOTER_MS} ms${haveTaskset ? ' pinned to CPU 1 (generator on CPU 0)' : ' (taskset not found: not pinned)'}`,
  );
  await closedLoop(WARMUP);

  const cpu0 = cpuSeconds(serverPid);
  const busy0 = cpuBusySeconds(1);
  const gen0 = process.cpuUsage();
  const c = await closedLoop(N);
  const cpu = cpuSeconds(serverPid) - cpu0;
  const gen = process.cpuUsage(gen0);
  const genShare = (gen.user + gen.system) / 1e6 / c.seconds;
  console.log(
    `closed loop: ${N} deliveries, ${CONCURRENCY} in flight: ${(N / c.seconds).toFixed(0)} deliveries/s, ${summary(c.ms)}; ` +
      `server CPU ${((cpu / N) * 1e6).toFixed(0)} µs/delivery (${((cpu / c.seconds) * 100).toFixed(0)}% of one core); ` +
      `load generator ${(genShare * 100).toFixed(0)}% of one core${othersShare(busy0, cpu, c.seconds)}`,
  );

  const p0 = cpuSeconds(serverPid);
  const pbusy0 = cpuBusySeconds(1);
  const p = await paced(PACED);
  const pcpu = cpuSeconds(serverPid) - p0;
  console.log(
    `paced at ${RATE}/s: ${PACED} deliveries in ${p.seconds.toFixed(2)} s (${(PACED / p.seconds).toFixed(0)}/s), ${summary(p.ms)}; ` +
      `server ${((pcpu / p.seconds) * 100).toFixed(0)}% of one core${othersShare(pbusy0, pcpu, p.seconds)}`,
  );
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const accepted = /kiln_webhook_deliveries_total\{verdict="accepted"\} (\d+)/.exec(metrics)?.[1];
  console.log(`server counted ${accepted} accepted deliveries (sent ${WARMUP + N + PACED})`);
} finally {
  agent.destroy();
  server.kill('SIGTERM');
  await exited;
  closeSync(logFd);
  await dir.remove();
}
