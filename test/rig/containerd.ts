// A private containerd (Debian's 1.6 + runc) for running the images kiln makes, as root, with its
// own root/state/socket under a temp dir and the CRI plugin disabled (not needed; starts faster).
// Checked on this sandbox (cgroup v1 hierarchy, ext4 root): the default overlayfs snapshotter
// works; `native` is used only when containerd reports overlayfs unusable.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_AS_ANNOTATION, unmountUnder, writeRuncWrapper } from './containerd-host.ts';
import { run, type Service, startService, tempDir } from './proc.ts';

export interface RunOptions {
  /** `uid[:gid]`, like Kubernetes' runAsUser/runAsGroup (overrides the image's User). */
  user?: string;
  env?: Record<string, string>;
  mounts?: Array<{ src: string; dst: string; readonly?: boolean }>;
  /** Kubernetes `args`: replace the image's Cmd and keep its Entrypoint (ignored when `cmd` is given). */
  args?: string[];
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunningContainer {
  id: string;
  logFile: string;
  logTail(lines?: number): Promise<string>;
  /** Resolves with the exit code when the container ends. */
  exited: Promise<number>;
  /** SIGTERM, SIGKILL after `graceMs`; the container is removed (`ctr run --rm`). */
  stop(graceMs?: number): Promise<void>;
}

export interface ContainerdRig {
  socket: string;
  namespace: string;
  snapshotter: string;
  dir: string;
  /** `ctr images pull --plain-http` (the rig's registries are on 127.0.0.1). */
  pull(ref: string, opts?: { auth?: { username: string; password: string } }): Promise<void>;
  /** Runs to completion; a non-zero exit is returned, not thrown. */
  run(ref: string, cmd: string[], opts?: RunOptions): Promise<RunResult>;
  runDetached(
    ref: string,
    id: string,
    cmd: string[] | undefined,
    opts?: RunOptions,
  ): Promise<RunningContainer>;
  /** The image config (linux/amd64 for an index) of a pulled ref. */
  imageConfig(ref: string): Promise<{ config?: { Entrypoint?: string[]; Cmd?: string[]; User?: string } }>;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<ContainerdRig> {
  const dir = await tempDir('containerd');
  const socket = join(dir.path, 'containerd.sock');
  // A namespace per rig: containerd's cgroup paths are /<namespace>/<id>, shared by every rig on the host.
  const namespace = `kiln-${randomBytes(4).toString('hex')}`;
  const config = join(dir.path, 'config.toml');
  await writeFile(
    config,
    `version = 2
root = "${join(dir.path, 'root')}"
state = "${join(dir.path, 'state')}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir.path, 'opt')}"
`,
  );
  const ctr = (args: string[]) => run('ctr', ['-a', socket, '-n', namespace, ...args]);
  const service: Service = await startService({
    name: 'containerd',
    cmd: 'containerd',
    args: ['--config', config],
    logFile: join(dir.path, 'containerd.log'),
    ready: async () => (await ctr(['version'])).stdout.includes('Server:'),
    timeoutMs: 30_000,
  });
  const snapshotter = (await ctr(['plugins', 'ls'])).stdout.match(/snapshotter\.v1\s+overlayfs\s+\S+\s+ok/)
    ? 'overlayfs'
    : 'native';
  const runcRoot = join(dir.path, 'runc'); // runc's default /run/containerd/runc is shared host-wide
  const wrapper = await writeRuncWrapper(dir.path);
  const running = new Set<RunningContainer>();

  const runArgs = async (ref: string, id: string, cmd: string[] | undefined, opts: RunOptions) => {
    const flags = ['run', '--rm', '--net-host', '--snapshotter', snapshotter, '--runc-root', runcRoot];
    if (opts.user) flags.push('--runc-binary', wrapper, '--annotation', `${RUN_AS_ANNOTATION}=${opts.user}`);
    for (const [k, v] of Object.entries(opts.env ?? {})) flags.push('--env', `${k}=${v}`);
    for (const m of opts.mounts ?? []) {
      flags.push('--mount', `type=bind,src=${m.src},dst=${m.dst},options=rbind:${m.readonly ? 'ro' : 'rw'}`);
    }
    // ctr replaces Entrypoint AND Cmd with whatever follows the id; Kubernetes `args` keep the Entrypoint.
    let argv = cmd ?? [];
    if (!cmd && opts.args) argv = [...((await rig.imageConfig(ref)).config?.Entrypoint ?? []), ...opts.args];
    return ['-a', socket, '-n', namespace, ...flags, ref, id, ...argv];
  };

  const rig: ContainerdRig = {
    socket,
    namespace,
    snapshotter,
    dir: dir.path,
    async pull(ref, opts = {}) {
      const auth = opts.auth ? ['--user', `${opts.auth.username}:${opts.auth.password}`] : [];
      await ctr(['images', 'pull', '--plain-http', '--snapshotter', snapshotter, ...auth, ref]);
    },
    async run(ref, cmd, opts = {}) {
      const id = `run-${randomBytes(4).toString('hex')}`;
      const child = spawn('ctr', await runArgs(ref, id, cmd, opts), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => void kill(id, 'SIGKILL'), opts.timeoutMs ?? 120_000);
      const exitCode = await exitOf(child);
      clearTimeout(timer);
      return { stdout, stderr, exitCode };
    },
    async runDetached(ref, id, cmd, opts = {}) {
      const logFile = join(dir.path, `${id}.log`);
      const log = createWriteStream(logFile);
      // Foreground `ctr run` kept as a child: its stdout/stderr are the container's, and it removes
      // the container when the task ends.
      const child = spawn('ctr', await runArgs(ref, id, cmd, opts), { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      const exited = exitOf(child).finally(() => log.end());
      const c: RunningContainer = {
        id,
        logFile,
        exited,
        logTail: async (lines = 40) =>
          (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n'),
        async stop(graceMs = 3000) {
          if (child.exitCode === null && child.signalCode === null) {
            await kill(id, 'SIGTERM');
            const timer = setTimeout(() => void kill(id, 'SIGKILL'), graceMs);
            // Last resort if the task never started (the ctr client then waits forever).
            const last = setTimeout(() => child.kill('SIGKILL'), graceMs + 10_000);
            await exited;
            clearTimeout(timer);
            clearTimeout(last);
          }
          running.delete(c);
        },
      };
      running.add(c);
      return c;
    },
    async imageConfig(ref) {
      const { stdout } = await ctr(['images', 'ls', `name==${ref}`]);
      let digest = /\s(sha256:[0-9a-f]{64})\s/.exec(stdout)?.[1];
      if (!digest) throw new Error(`containerd has no image ${ref}`);
      let doc = JSON.parse((await ctr(['content', 'get', digest])).stdout);
      if (Array.isArray(doc.manifests)) {
        const entry = doc.manifests.find(
          (m: { platform?: { os: string; architecture: string } }) =>
            m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
        );
        digest = entry?.digest;
        if (!digest) throw new Error(`${ref}: the index has no linux/amd64 image`);
        doc = JSON.parse((await ctr(['content', 'get', digest])).stdout);
      }
      return JSON.parse((await ctr(['content', 'get', doc.config.digest])).stdout);
    },
    async stop() {
      await Promise.all([...running].map((c) => c.stop(1000)));
      // Anything still alive (a run whose ctr client died): kill, delete, so no shim outlives the rig.
      const left = (await ctr(['tasks', 'ls', '-q']).catch(() => ({ stdout: '' }))).stdout.split('\n');
      for (const id of left.filter(Boolean)) await ctr(['tasks', 'delete', '--force', id]).catch(() => {});
      const cs = (await ctr(['containers', 'ls', '-q']).catch(() => ({ stdout: '' }))).stdout.split('\n');
      for (const id of cs.filter(Boolean)) await ctr(['containers', 'delete', id]).catch(() => {});
      await service.stop();
      await unmountUnder(dir.path);
      await dir.remove();
    },
  };

  async function kill(id: string, signal: string): Promise<void> {
    await ctr(['tasks', 'kill', '--all', '--signal', signal, id]).catch(() => undefined);
  }
  return rig;
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}
