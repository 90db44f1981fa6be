import { z } from 'zod';
import { openSignable } from '../../pipeline/signable.ts';
import { signInFormats } from '../../sign/sign-formats.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import { SignFormatFlag } from './sign-flags.ts';
import { loadSigningKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({
  key: z.string().min(1),
  signContainerIdentity: z.string().min(1).optional(),
  signatureFormat: SignFormatFlag,
});

// Like `cosign sign --key K --tlog-upload=false IMAGE@DIGEST` of cosign v2 (a classic signature
// at the sha256-<hex>.sig tag, appended to those already there) AND of cosign v3 (a v0.3 Sigstore
// bundle as an OCI referrer of the image); --signature-format picks one. Signing twice with one
// key adds nothing (cosign's duplicate check).
export const registerSign: RegisterCommand = (program, io) =>
  program
    .command('sign')
    .description(
      'sign an image by digest with a cosign-compatible key (classic .sig tag and Sigstore bundle)',
    )
    .argument('<image>', 'host[:port]/repo@sha256:... or oci:DIR@sha256:... (a digest, never a tag)')
    .requiredOption(
      '--key <file>',
      'private key (cosign.key, or PKCS#8 EC P-256 PEM); password from COSIGN_PASSWORD or a prompt',
    )
    .option(
      '--sign-container-identity <repo>',
      'docker-reference to write in the classic signature (default: the repository; localhost/<model> for oci:)',
    )
    .option(
      '--signature-format <f>',
      'classic (.sig tag) | bundle (Sigstore bundle as an OCI referrer) | both (default: build.signatureFormat)',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const flags = parseFlags(Flags, cmd.opts(), 'sign');
        const format = flags.signatureFormat ?? ctx.config.build.signatureFormat;
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const image = await openSignable(cmd.args[0]!, transport, 'sign');
        const key = await loadSigningKey(flags.key, io);
        const out = await signInFormats(image.store, {
          subject: {
            mediaType: image.manifest.mediaType,
            digest: image.digest,
            size: image.manifest.bytes.length,
          },
          key,
          format,
          sign: true,
          dockerReference: flags.signContainerIdentity ?? image.identity,
          attestations: [],
          log: ctx.log,
        });
        const bundle = out.bundles?.bundles[0];
        const added = out.signature?.added === true || bundle?.added === true;
        ctx.log.info(
          added
            ? `signed ${image.reference} (${[
                out.signature ? `signature ${out.signature.layers} in ${out.signature.tag}` : '',
                bundle ? `bundle ${bundle.manifest}` : '',
              ]
                .filter(Boolean)
                .join(', ')})`
            : `${image.reference} was already signed by ${key.source}; nothing added`,
        );
        ctx.result(image.reference, {
          reference: image.reference,
          digest: image.digest,
          format,
          ...(out.signature ? { signature: { ...out.signature } } : {}),
          ...(out.bundles ? { bundles: out.bundles } : {}),
        });
      }),
    );
