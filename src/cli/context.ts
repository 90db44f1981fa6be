import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type Logger, streamLogger } from '../log.ts';
import { type ProgressRenderer, progressRenderer } from './progress.ts';

/** What every command gets: resolved config, a stderr logger, and the one way to print a result. */
export interface CliContext {
  config: Config;
  configFile: string | undefined;
  log: Logger;
  json: boolean;
  /** Print the command's result on stdout: `text` for people, `data` as one JSON object with --json. */
  result(text: string, data: Record<string, unknown>): void;
  /** Progress display on stderr for the library's progress events (bars on a terminal). */
  progress: ProgressRenderer;
  /** Aborted on SIGINT/SIGTERM; long commands pass it down so they can clean up. */
  signal: AbortSignal | undefined;
}

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  config?: string;
}

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM (main.ts); the reason is the signal's name. */
  signal?: AbortSignal;
  /** Whether stderr is a terminal, and its width: progress bars only then. */
  stderrTty?: { columns: number | undefined };
}

export async function contextFor(cmd: Command, io: CliIO): Promise<CliContext> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const json = g.json === true;
  const progress = progressRenderer(io.stderr, {
    tty: io.stderrTty !== undefined && !json,
    columns: io.stderrTty?.columns,
    // Off a terminal (CI logs): one line per KILN_PROGRESS_INTERVAL seconds, 5 by default.
    everyMs: Number(io.env['KILN_PROGRESS_INTERVAL'] || 5) * 1000,
  });
  const log = streamLogger({ level: g.verbose ? 'debug' : 'info', json, write: (l) => progress.log(l) });
  const { config, file } = await loadConfig({ file: g.config, env: io.env, cwd: io.cwd });
  if (file) log.debug(`config from ${file}`);
  return {
    config,
    configFile: file,
    log,
    json,
    progress,
    signal: io.signal,
    result(text, data) {
      io.stdout(json ? `${JSON.stringify(data)}\n` : `${text}\n`);
    },
  };
}

/**
 * Wrap a command body: commander passes (args..., options, command); kiln commands read
 * `cmd.args` / `cmd.opts()` and get a context whose config was validated before anything runs.
 */
export function action(io: CliIO, body: (ctx: CliContext, cmd: Command) => Promise<void> | void) {
  return async (...received: unknown[]): Promise<void> => {
    const cmd = received[received.length - 1] as Command;
    await body(await contextFor(cmd, io), cmd);
  };
}
