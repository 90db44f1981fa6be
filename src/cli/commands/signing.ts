import { resolve } from 'node:path';
import { loadPrivateKey, loadPublicKey, type SigningKey, type VerifyKey } from '../../sign/keys.ts';
import { processTty, resolvePassword } from '../../sign/password.ts';
import type { CliIO } from '../context.ts';

// Keys for sign, attest, verify and bake --sign-key. The password is asked for only when the key
// file turns out to be encrypted (COSIGN_PASSWORD, else a no-echo prompt on a terminal), and the
// decrypted key stays in this process: it is never logged, written or put into an error.

export function loadSigningKey(file: string, io: CliIO): Promise<SigningKey> {
  const path = resolve(io.cwd, file);
  return loadPrivateKey(path, () =>
    resolvePassword({ env: io.env, tty: processTty(), confirm: false, purpose: `private key ${path}` }),
  );
}

export function loadVerifyKey(file: string, io: CliIO): Promise<VerifyKey> {
  return loadPublicKey(resolve(io.cwd, file));
}
