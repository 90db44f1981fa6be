import { openSignable } from '../../pipeline/signable.ts';
import { signImage } from '../../sign/sign-image.ts';
import { action } from '../context.ts';
import { loadSigningKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

interface SignFlags {
  key: string;
  signContainerIdentity?: string;
}

// Like `cosign sign --key K --tlog-upload=false IMAGE@DIGEST`: a classic signature at the
// sha256-<hex>.sig tag, appended to the signatures already there; signing twice with one key
// adds nothing (cosign's duplicate check).
export const registerSign: RegisterCommand = (program, io) =>
  program
    .command('sign')
    .description('sign an image by digest with a cosign-compatible key (classic .sig tag)')
    .argument('<image>', 'host[:port]/repo@sha256:... or oci:DIR@sha256:... (a digest, never a tag)')
    .requiredOption(
      '--key <file>',
      'private key (cosign.key, or PKCS#8 EC P-256 PEM); password from COSIGN_PASSWORD or a prompt',
    )
    .option(
      '--sign-container-identity <repo>',
      'docker-reference to write in the signature (default: the repository; localhost/<model> for oci:)',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<SignFlags>();
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const image = await openSignable(cmd.args[0]!, transport, 'sign');
        const key = await loadSigningKey(flags.key, io);
        const sig = await signImage(image.store, {
          digest: image.digest,
          key,
          dockerReference: flags.signContainerIdentity ?? image.identity,
          log: ctx.log,
        });
        ctx.log.info(
          sig.added
            ? `signed ${image.reference} (signature ${sig.layers} in ${sig.tag})`
            : `${image.reference} was already signed by ${key.source}; nothing added`,
        );
        ctx.result(image.reference, {
          reference: image.reference,
          digest: image.digest,
          signature: { ...sig },
        });
      }),
    );
