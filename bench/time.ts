// One way for the benchmarks to time a command: wall seconds, the peak RSS GNU time reports (of
// the largest process in the tree) and the CPU it used (user + system, children included), with
// its exit code and the end of its stderr.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measure {
  seconds: number;
  peakMiB: number;
  cpuSeconds: number;
}

export interface Ran extends Measure {
  code: number;
  stderr: string;
}

export function measure(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'KILN_BENCH %M %U %S', cmd, ...args], {
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /KILN_BENCH (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      resolve({
        code: code ?? 1,
        seconds: (performance.now() - t0) / 1000,
        peakMiB: m ? Number(m[1]) / 1024 : Number.NaN,
        cpuSeconds: m ? Number(m[2]) + Number(m[3]) : Number.NaN,
        stderr: err.slice(-3000),
      });
    });
  });
}

/** measure(), failing the benchmark when the command fails. */
export async function timed(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Measure> {
  const r = await measure(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return { seconds: r.seconds, peakMiB: r.peakMiB, cpuSeconds: r.cpuSeconds };
}

/**
 * CPU seconds (user + system) used so far by the live processes of a process group: the rigs start
 * each server in its own group, so this counts MLflow with its uvicorn worker, or the registry.
 * Read before and after a run; the difference is what the server spent on it.
 */
export function groupCpuSeconds(pgid: number): number {
  const tick = 100; // USER_HZ: /proc/<pid>/stat counts in clock ticks of 1/100 s on Linux
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised command name (which may hold spaces): state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]); // pgrp, utime, stime
  }
  return ticks / tick;
}
