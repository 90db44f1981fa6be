// Where a key password comes from, as cosign does it (cmd/cosign/cli/generate/generate_key_pair.go
// GetPass/readPasswordFn): COSIGN_PASSWORD when set (even empty), else a prompt on a terminal
// with echo off, else a clear usage error (never hang waiting on a pipe).
import { KilnError } from '../errors.ts';

/** A terminal to prompt on: input must be a TTY stream that supports raw mode. */
export interface PromptTty {
  input: NodeJS.ReadStream;
  output: NodeJS.WritableStream;
}

/**
 * Ask each prompt in turn and read one line per prompt with echo off (raw mode: no character
 * reaches the screen). One raw session for all prompts, so typed-ahead lines are not lost.
 */
export function promptHidden(tty: PromptTty, prompts: readonly string[]): Promise<string[]> {
  const { input, output } = tty;
  return new Promise((resolve, reject) => {
    const answers: string[] = [];
    let value = '';
    const wasRaw = input.isRaw;
    const finish = (err?: Error): void => {
      input.removeListener('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      if (err) reject(err);
      else resolve(answers);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString('utf8')) {
        if (answers.length === prompts.length) return;
        if (ch === '\u0003') {
          output.write('\n');
          finish(new KilnError('INTERRUPTED', 'password prompt interrupted', { kind: 'usage' }));
          return;
        }
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          answers.push(value);
          value = '';
          output.write('\n');
          if (answers.length === prompts.length) {
            finish();
            return;
          }
          output.write(prompts[answers.length] ?? '');
        } else if (ch === '\u007f' || ch === '\b') {
          value = value.slice(0, -1);
        } else {
          value += ch;
        }
      }
    };
    // Echo off BEFORE the prompt shows: a fast typist (or a script) must never be echoed.
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    output.write(prompts[0] ?? '');
  });
}

export interface PasswordOptions {
  env: NodeJS.ProcessEnv;
  /** A terminal to prompt on, when stdin is one. */
  tty?: PromptTty | undefined;
  /** Ask twice and require both to match (creating a key). */
  confirm: boolean;
  /** For messages: what the password is for, e.g. "private key cosign.key". */
  purpose: string;
}

export async function resolvePassword(opts: PasswordOptions): Promise<string> {
  const fromEnv = opts.env['COSIGN_PASSWORD'];
  if (fromEnv !== undefined) return fromEnv;
  if (!opts.tty) {
    throw new KilnError(
      'KEY_PASSWORD_REQUIRED',
      `no password for ${opts.purpose}: COSIGN_PASSWORD is not set and stdin is not a terminal`,
      {
        kind: 'usage',
        hint: 'set COSIGN_PASSWORD (as cosign reads it), or run on a terminal to be prompted',
      },
    );
  }
  const prompts = [`Enter password for ${opts.purpose}: `];
  if (opts.confirm) prompts.push(`Enter password for ${opts.purpose} again: `);
  const [first = '', second = first] = await promptHidden(opts.tty, prompts);
  if (first !== second) {
    throw new KilnError('KEY_PASSWORD_MISMATCH', 'the two passwords typed do not match', {
      kind: 'usage',
      hint: 'run the command again and type the same password twice',
    });
  }
  return first;
}

/** The process's terminal, when both stdin and stderr are one (prompts go to stderr). */
export function processTty(): PromptTty | undefined {
  return process.stdin.isTTY && process.stderr.isTTY
    ? { input: process.stdin, output: process.stderr }
    : undefined;
}
