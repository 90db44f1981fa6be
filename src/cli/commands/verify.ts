import { openSignable } from '../../pipeline/signable.ts';
import { SLSA_PROVENANCE_V1 } from '../../sign/provenance.ts';
import { verifyImageAttestations, verifyImageSignatures } from '../../sign/verify-image.ts';
import { action } from '../context.ts';
import { loadVerifyKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

interface VerifyFlags {
  key: string;
  attestation?: boolean;
}

// Like `cosign verify --key K --insecure-ignore-tlog=true IMAGE@DIGEST` (and with --attestation,
// `cosign verify-attestation --type slsaprovenance1`). Exit 0 when valid; exit 3 with one reason
// code otherwise: SIGNATURE_MISSING, SIGNATURE_INVALID, SIGNATURE_DIGEST_MISMATCH,
// ATTESTATION_MISSING, ATTESTATION_INVALID.
export const registerVerify: RegisterCommand = (program, io) =>
  program
    .command('verify')
    .description('verify the signatures (and with --attestation, the provenance) of an image by digest')
    .argument('<image>', 'host[:port]/repo@sha256:... or oci:DIR@sha256:...')
    .requiredOption('--key <file>', 'public key (PEM, e.g. cosign.pub)')
    .option('--attestation', 'also verify the SLSA provenance v1 attestation')
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<VerifyFlags>();
        const key = await loadVerifyKey(flags.key, io);
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const image = await openSignable(cmd.args[0]!, transport, 'verify');
        const sigs = await verifyImageSignatures(image.store, image.digest, key);
        ctx.log.info(
          `${image.reference}: ${sigs.verified.length} of ${sigs.layers} signature(s) verified with ${key.source}`,
        );
        const result: Record<string, unknown> = {
          reference: image.reference,
          digest: image.digest,
          signatures: { tag: sigs.tag, verified: sigs.verified.length, layers: sigs.layers },
        };
        if (flags.attestation) {
          const atts = await verifyImageAttestations(image.store, image.digest, key, SLSA_PROVENANCE_V1);
          ctx.log.info(
            `${image.reference}: ${atts.statements.length} SLSA provenance attestation(s) verified`,
          );
          result['attestation'] = {
            tag: atts.tag,
            predicateType: SLSA_PROVENANCE_V1,
            verified: atts.statements.length,
            layers: atts.layers,
            predicates: atts.statements.map((s) => s.predicate),
          };
        }
        ctx.result(image.reference, result);
      }),
    );
