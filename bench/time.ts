// One way for the benchmarks to time a command: wall seconds and the peak RSS GNU time reports
// (of the largest process in the tree), with its exit code and the end of its stderr.
import { spawn } from 'node:child_process';

export interface Measure {
  seconds: number;
  peakMiB: number;
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
    const p = spawn('/usr/bin/time', ['-f', 'KILN_BENCH %M', cmd, ...args], {
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
      const m = /KILN_BENCH (\d+)/.exec(err);
      resolve({
        code: code ?? 1,
        seconds: (performance.now() - t0) / 1000,
        peakMiB: m ? Number(m[1]) / 1024 : Number.NaN,
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
  return { seconds: r.seconds, peakMiB: r.peakMiB };
}
