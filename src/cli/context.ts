import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type Logger, streamLogger } from '../log.ts';

/** What every command gets: resolved config, a stderr logger, and the one way to print a result. */
export interface CliContext {
  config: Config;
  configFile: string | undefined;
  log: Logger;
  json: boolean;
  /** Print the command's result on stdout: `text` for people, `data` as one JSON object with --json. */
  result(text: string, data: Record<string, unknown>): void;
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
}

export function contextFor(cmd: Command, io: CliIO): CliContext {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const json = g.json === true;
  const log = streamLogger({ level: g.verbose ? 'debug' : 'info', json, write: io.stderr });
  const { config, file } = loadConfig({ file: g.config, env: io.env, cwd: io.cwd });
  if (file) log.debug(`config from ${file}`);
  return {
    config,
    configFile: file,
    log,
    json,
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
    await body(contextFor(cmd, io), cmd);
  };
}
