import { openSignable } from '../../pipeline/signable.ts';
import { SLSA_PROVENANCE_V1 } from '../../sign/provenance.ts';
import { type FormatVerdict, verifyImage } from '../../sign/verify.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import { predicateType, VerifyFlags } from './sign-flags.ts';
import { loadVerifyKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

/** JSON for one format's verdict; classic keeps the fields kiln verify always printed (tag, verified, layers). */
const shape = (v: FormatVerdict) =>
  v.format === 'classic'
    ? { format: v.format, tag: v.where, verified: v.verified, layers: v.of }
    : { format: v.format, referrers: v.where, verified: v.verified, bundles: v.of };

const describe = (v: FormatVerdict): string =>
  `${v.verified} of ${v.of} ${v.format === 'bundle' ? `bundle(s) (referrers ${v.where})` : `in ${v.where}`}`;

// Like cosign v3 `cosign verify --key K --insecure-ignore-tlog=true IMAGE@DIGEST` (and with
// --attestation, `cosign verify-attestation --type T`): Sigstore bundles first, the classic
// .sig/.att tags when the image has no bundle. Exit 0 when valid; exit 3 with one reason code
// otherwise: SIGNATURE_MISSING, SIGNATURE_INVALID, SIGNATURE_DIGEST_MISMATCH,
// ATTESTATION_MISSING, ATTESTATION_INVALID.
export const registerVerify: RegisterCommand = (program, io) =>
  program
    .command('verify')
    .description('verify the signatures (and with --attestation, the provenance) of an image by digest')
    .argument('<image>', 'host[:port]/repo@sha256:... or oci:DIR@sha256:...')
    .requiredOption('--key <file>', 'public key (PEM, e.g. cosign.pub)')
    .option('--attestation', 'also verify an attestation (default type: SLSA provenance v1)')
    .option('--type <type>', 'attestation predicate type: slsaprovenance1 or a URI (implies --attestation)')
    .option(
      '--signature-format <f>',
      'auto (bundles first, classic when there is none: cosign v3), bundle, classic, or both (each must verify)',
      'auto',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const flags = parseFlags(VerifyFlags, cmd.opts(), 'verify');
        const key = await loadVerifyKey(flags.key, io);
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const image = await openSignable(cmd.args[0]!, transport, 'verify');
        const type =
          flags.type !== undefined
            ? predicateType(flags.type)
            : flags.attestation
              ? SLSA_PROVENANCE_V1
              : undefined;
        const v = await verifyImage(image.store, image.digest, key, {
          format: flags.signatureFormat,
          predicateType: type,
        });
        ctx.log.info(
          `${image.reference}: signature verified with ${key.source}: ${v.signature.map(describe).join('; ')}`,
        );
        const result: Record<string, unknown> = {
          reference: image.reference,
          digest: image.digest,
          // The format that decided (bundle when the image has bundles); `checks` lists every format checked.
          signatures: shape(v.signature[0]!),
          checks: v.signature.map(shape),
        };
        if (type !== undefined && v.attestation) {
          ctx.log.info(
            `${image.reference}: ${type} attestation verified: ${v.attestation.map(describe).join('; ')}`,
          );
          result['attestation'] = {
            predicateType: type,
            ...shape(v.attestation[0]!),
            checks: v.attestation.map(shape),
            predicates: v.attestation[0]?.statements.map((s) => s.predicate) ?? [],
          };
        }
        ctx.result(image.reference, result);
      }),
    );
