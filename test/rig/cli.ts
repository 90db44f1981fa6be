// Run kiln as a user does: a real process, its stdout, stderr and exit code.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.ts';
import { REPO_ROOT } from './proc.ts';

export interface KilnRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const KILN_MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export function kiln(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<KilnRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KILN_MAIN, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A clean environment for kiln: no inherited MLflow/registry/kube settings from the developer's shell. */
export function kilnEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      !/^(MLFLOW_|KILN_CONFIG|KILN_TARGET|KILN_BASE|KILN_SIGN_KEY|KILN_SIGNATURE_FORMAT|DOCKER_CONFIG|KUBECONFIG|SOURCE_DATE_EPOCH|COSIGN_)/.test(
        k,
      )
    )
      env[k] = v;
  }
  return { ...env, ...extra };
}

/** kiln in this process (runCli with captured output): faster than a process, same exit codes and output. */
export async function kilnInProcess(
  argv: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string },
): Promise<KilnRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: opts.env,
    cwd: opts.cwd,
  });
  return { code, stdout, stderr };
}
