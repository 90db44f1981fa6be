// Docker credential helpers (github.com/docker/docker-credential-helpers, client/client.go):
// run `docker-credential-<name> get`, write the server address on stdin, read
// `{"ServerURL","Username","Secret"}` on stdout. Username `<token>` means Secret is an identity
// (refresh) token. "credentials not found" on a failed run means: none stored, not an error.
import { spawn } from 'node:child_process';
import { KilnError } from '../../errors.ts';
import type { Credentials } from './dockerconfig.ts';

const NOT_FOUND = /credentials not found/i;

export async function runCredentialHelper(
  name: string,
  serverAddress: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string, cause?: unknown): KilnError =>
    new KilnError(
      'REGISTRY_CREDENTIAL_HELPER_FAILED',
      `credential helper ${program} failed for ${serverAddress}: ${why}`,
      {
        hint: `check that ${program} is installed and on PATH and that \`echo ${serverAddress} | ${program} get\` works, or remove it from credHelpers/credsStore in your Docker config`,
        cause,
        details: { helper: program, serverAddress },
      },
    );
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      // env.PATH is used to find the program (node:child_process spawn, options.env).
      const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(fail(e.code === 'ENOENT' ? 'not found on PATH' : e.message, e)),
      );
      child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
      child.stdin.on('error', () => {}); // a helper that exits without reading stdin is judged by its exit code
      child.stdin.end(serverAddress);
    },
  );
  if (code !== 0) {
    if (NOT_FOUND.test(stdout) || NOT_FOUND.test(stderr)) return undefined;
    throw fail(`exited ${code}: ${(stderr || stdout).trim().slice(0, 300)}`);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch (e) {
    throw fail('its output is not JSON', e);
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
  if (!secret) return undefined;
  return username === '<token>' ? { identityToken: secret } : { username, password: secret };
}
