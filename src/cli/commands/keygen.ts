import { resolve } from 'node:path';
import { writeKeyPair } from '../../sign/keygen.ts';
import { processTty, resolvePassword } from '../../sign/password.ts';
import { action } from '../context.ts';
import type { RegisterCommand } from './types.ts';

// Like `cosign generate-key-pair`: P.key (encrypted, 0600) and P.pub. The password comes from
// COSIGN_PASSWORD or a no-echo prompt; existing files are never overwritten without --force.
export const registerKeygen: RegisterCommand = (program, io) =>
  program
    .command('keygen')
    .description('write a cosign-compatible key pair (P.key encrypted, P.pub)')
    .option('--output-key-prefix <prefix>', 'file name prefix', 'cosign')
    .option('--force', 'replace an existing key pair with the same prefix')
    .action(
      action(io, async (ctx, cmd) => {
        const opts = cmd.opts<{ outputKeyPrefix: string; force?: boolean }>();
        const prefix = resolve(io.cwd, opts.outputKeyPrefix);
        const password = await resolvePassword({
          env: io.env,
          tty: processTty(),
          confirm: true,
          purpose: 'the new private key',
        });
        if (password === '') {
          ctx.log.warn('the private key is encrypted with an EMPTY password: anyone with the file can sign');
        }
        const written = await writeKeyPair(prefix, password, { force: opts.force === true });
        ctx.log.info(
          `wrote the private key ${written.privateKeyPath} (encrypted, mode 0600); keep it secret`,
        );
        ctx.result(`${written.privateKeyPath}\n${written.publicKeyPath}`, {
          privateKey: written.privateKeyPath,
          publicKey: written.publicKeyPath,
        });
      }),
    );
