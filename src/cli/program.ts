import { Command, CommanderError, Option } from 'commander';
import { describeCause, isKilnError, KilnError } from '../errors.ts';
import { classifySystemError } from '../syserrors.ts';
import { KILN_VERSION } from '../version.ts';
import { COMMANDS } from './commands/index.ts';
import type { CliIO } from './context.ts';
import { wrapLines } from './wrap.ts';

export function buildProgram(io: CliIO): Command {
  const program = new Command('kiln')
    .description('MLflow model versions -> signed, digest-pinned OCI images -> KServe canaries.')
    .addHelpText(
      'after',
      [
        '',
        'stdout carries only the result: a digest-pinned reference, or one JSON object with --json.',
        'Progress and logs go to stderr. Exit codes: 0 done, 1 failed, 2 bad usage or input,',
        '3 refused by policy, 130/143 interrupted (Ctrl-C / SIGTERM).',
        '',
        'Start with: kiln bake models:/NAME@ALIAS --to oci:./images   (kiln <command> --help for more)',
      ].join('\n'),
    )
    .version(KILN_VERSION, '-V, --version', 'print the kiln version')
    .addOption(new Option('--json', 'print the result as one JSON object on stdout'))
    .addOption(new Option('-v, --verbose', 'log debug detail to stderr'))
    .addOption(new Option('-c, --config <file>', 'kiln.yaml to read (default: ./kiln.yaml, or $KILN_CONFIG)'))
    .showHelpAfterError('(run kiln --help for usage)')
    .exitOverride()
    .configureOutput(helpOutput(io));
  for (const register of COMMANDS) {
    const cmd = register(program, io);
    cmd.exitOverride().configureOutput(helpOutput(io));
    for (const sub of cmd.commands) sub.configureOutput(helpOutput(io));
  }
  return program;
}

/** What commander writes (help, usage errors) fits an 80-column terminal. */
function helpOutput(io: CliIO) {
  return {
    writeOut: (s: string) => io.stdout(wrapLines(s)),
    writeErr: (s: string) => io.stderr(wrapLines(s)),
  };
}

/** Run kiln with argv (without node and script); returns the exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const program = buildProgram(io);
  const json = argv.includes('--json');
  // `kiln` alone is a usage error, as with git: help on stderr, exit 2 (`kiln --help` is stdout, 0).
  const asked = argv.some((a) => ['-h', '--help', '-V', '--version'].includes(a));
  if (!asked && !argv.some((a) => !a.startsWith('-'))) {
    io.stderr(program.helpInformation());
    io.stderr('\nkiln: error: no command given\n');
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to a user.
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      ) {
        return 0;
      }
      return 2; // commander already printed what was wrong with the command line
    }
    const err = isKilnError(e)
      ? e
      : (classifySystemError(e) ??
        new KilnError('INTERNAL', `unexpected failure: ${describeCause(e)}`, {
          cause: e,
          hint: 'this is a bug in kiln; run again with --verbose and report it',
        }));
    if (io.signal?.aborted) {
      // Interrupted: say what state things are in, exit as shells expect (128 + signal number).
      const message = err.code === 'INTERRUPTED' ? err.message : 'interrupted; run again to resume';
      io.stderr(`\nkiln: ${message}\n`);
      if (json) io.stdout(`${JSON.stringify({ error: { code: 'INTERRUPTED', message } })}\n`);
      return io.signal.reason === 'SIGTERM' ? 143 : 130;
    }
    io.stderr(`kiln: error: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    if (argv.includes('--verbose') || argv.includes('-v')) {
      if (err.cause !== undefined) io.stderr(`  cause: ${describeCause(err.cause)}\n`);
      if (!isKilnError(e) && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    }
    if (json) {
      io.stdout(
        `${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint, details: err.details } })}\n`,
      );
    }
    return err.exitCode;
  }
}
