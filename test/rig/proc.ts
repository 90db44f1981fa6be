// Shared plumbing for the test rig: free ports, temp dirs, and child services that are always
// stopped. Every real service kiln's tests use (MLflow, registry, etcd, API server, containerd)
// is started through `startService`, on 127.0.0.1, and stopped by `stop()` (tests call it in `after`).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** Tools cache outside the clone (scripts/lib.sh sets it; the same default is repeated here for direct runs). */
export const TOOLS_DIR = process.env['KILN_TOOLS'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'kiln');
export const toolPath = (name: string): string => join(TOOLS_DIR, 'bin', name);
export const PYTHON = process.env['KILN_PYTHON'] ?? join(TOOLS_DIR, 'venv', 'bin', 'python');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `kiln-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface Service {
  name: string;
  proc: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
  stop(): Promise<void>;
  /** The last lines of the service's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

export interface StartOptions {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Resolves true when the service is ready; polled until `timeoutMs`. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}

export async function startService(opts: StartOptions): Promise<Service> {
  const log = createWriteStream(opts.logFile);
  const proc = spawn(opts.cmd, opts.args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so stop() also ends children (gunicorn/uvicorn workers)
  });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  // A command that cannot be spawned (missing binary) emits 'error' and never 'exit'.
  let spawnError: Error | undefined;
  const exited = new Promise<void>((res) => {
    proc.once('exit', () => res());
    proc.once('error', (e) => {
      spawnError = e;
      res();
    });
  });
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const service: Service = {
    name: opts.name,
    proc,
    logFile: opts.logFile,
    async stop() {
      if (!dead && proc.pid !== undefined) {
        killGroup(proc.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(proc.pid!, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
    async logTail(lines = 30) {
      const text = await readFile(opts.logFile, 'utf8').catch(() => '');
      return text.split('\n').slice(-lines).join('\n');
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (dead) {
      if (spawnError) throw new Error(`${opts.name} could not start (${opts.cmd}): ${spawnError.message}`);
      throw new Error(`${opts.name} exited before it was ready:\n${await service.logTail()}`);
    }
    if (await opts.ready().catch(() => false)) return service;
    await sleep(200);
  }
  await service.stop();
  throw new Error(
    `${opts.name} was not ready within ${opts.timeoutMs ?? 60_000} ms:\n${await service.logTail()}`,
  );
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when `url` answers 2xx (used as a readiness probe). */
export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.ok;
}

/** Run a command to completion; rejects with its output when it exits non-zero. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('error', rej);
    p.on('close', (code) => {
      if (code === 0) res({ stdout, stderr });
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr}\n${stdout}`));
    });
    // A command that exits without reading stdin must not fail the run with EPIPE.
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
  });
}
