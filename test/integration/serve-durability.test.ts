import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KILN_MAIN, kiln, kilnEnv } from '../rig/cli.ts';
import { freePort, httpOk, REPO_ROOT, type Service, startService, tempDir } from '../rig/proc.ts';
import { postDelivery, signedDelivery, waitFor } from '../rig/serve.ts';

// `kiln serve` as a real process: kill -9 in the middle of a promotion, start it again, and the
// promotion completes exactly once (and the one queued behind it still runs). The promoter is the
// test module test/rig/serve-promoter.ts, passed with serve's --promoter option; it logs each
// start and finish to a file that survives the kill.

const SECRET = 'durable-secret';
const PROMOTER = join(REPO_ROOT, 'test', 'rig', 'serve-promoter.ts');
let dir: { path: string; remove: () => Promise<void> };
let port: number;
let env: NodeJS.ProcessEnv;
let promoterLog: string;
const services: Service[] = [];
let blackHole: Server;
const sockets = new Set<Socket>();

before(async () => {
  dir = await tempDir('serve-durable');
  port = await freePort();
  promoterLog = join(dir.path, 'promoter.jsonl');
  await writeFile(
    join(dir.path, 'kiln.yaml'),
    [
      'models:',
      '  - name: risk',
      'server:',
      `  listen: 127.0.0.1:${port}`,
      '  stateDir: ./state',
      '  reconcileInterval: 3600',
      '',
    ].join('\n'),
  );
  // An "MLflow" that accepts connections and never answers: the reconciler's reads hang (this
  // test does not need them), and shutdown must not wait for them.
  blackHole = createServer((socket) => sockets.add(socket));
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  env = kilnEnv({
    KILN_WEBHOOK_SECRET: SECRET,
    MLFLOW_TRACKING_URI: `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`,
    KILN_TEST_PROMOTER_LOG: promoterLog,
  });
});

after(async () => {
  for (const s of services) await s.stop();
  for (const socket of sockets) socket.destroy();
  blackHole?.close();
  await dir?.remove();
});

async function startServe(delayMs: number, logName: string): Promise<Service> {
  const s = await startService({
    name: 'kiln serve',
    cmd: process.execPath,
    args: [KILN_MAIN, 'serve', '--promoter', PROMOTER],
    env: { ...env, KILN_TEST_PROMOTER_DELAY_MS: String(delayMs) },
    cwd: dir.path,
    logFile: join(dir.path, logName),
    ready: () => httpOk(`http://127.0.0.1:${port}/healthz`),
  });
  services.push(s);
  return s;
}

function promoterEvents(): string[] {
  if (!existsSync(promoterLog)) return [];
  return readFileSync(promoterLog, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const e = JSON.parse(l) as { event: string; version: string };
      return `${e.event} ${e.version}`;
    });
}

const url = () => `http://127.0.0.1:${port}/webhooks/mlflow`;

describe('kiln serve survives kill -9', () => {
  const first = () => signedDelivery(SECRET, { name: 'risk', version: '5' }, { deliveryId: 'delivery-5' });

  test('a promotion killed mid-way is resumed at the next start and completes exactly once', async () => {
    const a = await startServe(60_000, 'serve-1.log'); // never finishes on its own
    assert.equal((await postDelivery(url(), first())).status, 202);
    await waitFor('the promotion of 5 to start', () => promoterEvents().includes('start 5'));
    // a newer move while 5 runs: queued behind it
    const six = signedDelivery(SECRET, { name: 'risk', version: '6' }, { deliveryId: 'delivery-6' });
    assert.equal((await postDelivery(url(), six)).status, 202);
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));

    await startServe(300, 'serve-2.log');
    await waitFor('6 to finish', () => promoterEvents().includes('finish 6'), 20_000);
    assert.deepEqual(promoterEvents(), ['start 5', 'start 5', 'finish 5', 'start 6', 'finish 6']);
  });

  test('the delivery ids seen before the kill are still known: an MLflow retry starts nothing', async () => {
    const r = await postDelivery(url(), first());
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'duplicate');
    const again = signedDelivery(SECRET, { name: 'risk', version: '6' });
    const r2 = await postDelivery(url(), again);
    assert.equal(JSON.parse(r2.body).decision, 'already-deployed');
  });

  test('kiln history reads the store while serve runs: newest first, each version once', async () => {
    const res = await kiln(['history', 'risk', '--json'], { env, cwd: dir.path });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as {
      name: string;
      promotions: Array<{
        version: string;
        status: string;
        attempts: number;
        digest: string;
        signed: boolean;
      }>;
    };
    assert.equal(out.name, 'risk');
    assert.deepEqual(
      out.promotions.map((p) => [p.version, p.status, p.attempts]),
      [
        ['6', 'succeeded', 1],
        ['5', 'succeeded', 2],
      ],
    );
    assert.match(out.promotions[0]!.digest, /^sha256:[0-9a-f]{64}$/);
    const text = await kiln(['history', 'risk'], { env, cwd: dir.path });
    const lines = text.stdout.trim().split('\n');
    assert.match(lines[0]!, /^VERSION\s+STATUS\s+DIGEST\s+SIGNED\s+DEPLOYED TO\s+FINISHED/);
    assert.match(lines[1]!, /^6\s+succeeded\s+sha256:[0-9a-f]{64}\s+yes\s+prod\/risk\s+\d{4}-/);
    assert.equal(lines.length, 3);
  });

  test('a second kiln serve on the same state directory is refused', async () => {
    const res = await kiln(['serve', '--listen', `127.0.0.1:${await freePort()}`], { env, cwd: dir.path });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /another kiln serve \(pid \d+\) is using/);
  });

  test('SIGTERM stops it promptly (MLflow hanging) and cleanly: exit 0, JSON logs, the lock released', async () => {
    const s = services.at(-1)!;
    const exited = new Promise<number | null>((r) => s.proc.once('exit', (code) => r(code)));
    const t0 = performance.now();
    s.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `exit took ${ms} ms`);
    const log = readFileSync(s.logFile, 'utf8').trim().split('\n');
    const entries = log.map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
    assert.ok(entries.every((e) => typeof e.time === 'string' && typeof e.level === 'string'));
    assert.ok(entries.some((e) => e.msg === 'resuming a promotion interrupted by a restart'));
    assert.equal(entries.at(-1)?.msg, 'kiln serve stopped');
    assert.equal(existsSync(join(dir.path, 'state', 'serve.pid')), false);
  });
});

describe('kiln serve refuses to start without what it needs', () => {
  test('no KILN_WEBHOOK_SECRET (exit 2), unless --no-webhook', async () => {
    const res = await kiln(['serve'], { env: { ...env, KILN_WEBHOOK_SECRET: '' }, cwd: dir.path });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /KILN_WEBHOOK_SECRET is not set/);
    assert.match(res.stderr, /--no-webhook/);
  });

  test('no watched models (exit 2)', async () => {
    const empty = join(dir.path, 'empty.yaml');
    await writeFile(empty, 'server:\n  stateDir: ./state2\n');
    const res = await kiln(['serve', '--config', empty], { env, cwd: dir.path });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no models to watch/);
  });

  test('a bad --listen (exit 2)', async () => {
    const res = await kiln(['serve', '--listen', 'localhost'], { env, cwd: dir.path });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /listen address "localhost" is not HOST:PORT/);
  });

  test('kiln history without any state says where it looked (exit 2)', async () => {
    const res = await kiln(['history', 'risk', '--config', join(dir.path, 'empty.yaml')], {
      env,
      cwd: dir.path,
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no kiln serve state in .*state2/);
  });
});
