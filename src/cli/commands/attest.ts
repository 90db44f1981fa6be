import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { KilnError } from '../../errors.ts';
import { provenanceFromLabels } from '../../pipeline/provenance-labels.ts';
import { openSignable } from '../../pipeline/signable.ts';
import { provenancePayload, SLSA_PROVENANCE_V1 } from '../../sign/provenance.ts';
import { signInFormats } from '../../sign/sign-formats.ts';
import { makeStatement } from '../../sign/statement.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import { predicateType, SignFormatFlag } from './sign-flags.ts';
import { loadSigningKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

interface AttestFlags {
  key: string;
  predicate?: string;
  type: string;
  signatureFormat?: string;
}

async function readPredicate(file: string): Promise<unknown> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile() || st.size > 8 << 20) {
    throw new KilnError('PREDICATE_INVALID', `predicate ${file} is not a readable file under 8 MiB`, {
      kind: 'usage',
      hint: 'pass a JSON file with the predicate (not a whole statement)',
    });
  }
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new KilnError('PREDICATE_INVALID', `predicate ${file} is not JSON`, {
      kind: 'usage',
      hint: 'pass a JSON file with the predicate (not a whole statement)',
    });
  }
}

// Like `cosign attest --key K --type slsaprovenance1 --predicate P --tlog-upload=false`: a DSSE
// envelope around an in-toto statement, appended at the sha256-<hex>.att tag. Without
// --predicate, the SLSA provenance is rebuilt from the kiln annotations of the image.
export const registerAttest: RegisterCommand = (program, io) =>
  program
    .command('attest')
    .description('attach an SLSA provenance attestation (DSSE, cosign .att format) to an image by digest')
    .argument('<image>', 'host[:port]/repo@sha256:... or oci:DIR@sha256:...')
    .requiredOption('--key <file>', 'private key (cosign.key, or PKCS#8 EC P-256 PEM)')
    .option(
      '--predicate <file>',
      'predicate JSON (default: SLSA provenance from the image`s kiln annotations)',
    )
    .option('--type <type>', 'predicate type: slsaprovenance1, custom or a URI', 'slsaprovenance1')
    .option(
      '--signature-format <f>',
      'classic (.att tag) | bundle (Sigstore bundle as an OCI referrer) | both (default: build.signatureFormat)',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const flags = cmd.opts<AttestFlags>();
        const format =
          parseFlags(z.object({ signatureFormat: SignFormatFlag }), flags, 'attest').signatureFormat ??
          ctx.config.build.signatureFormat;
        const type = predicateType(flags.type);
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const image = await openSignable(cmd.args[0]!, transport, 'attest');
        let statement: Buffer;
        if (flags.predicate !== undefined) {
          const predicate = await readPredicate(resolve(io.cwd, flags.predicate));
          statement = Buffer.from(
            JSON.stringify(makeStatement({ name: image.identity, digest: image.digest }, type, predicate)),
          );
        } else {
          if (type !== SLSA_PROVENANCE_V1) {
            throw new KilnError('ATTESTATION_PREDICATE_REQUIRED', `--type ${flags.type} needs --predicate`, {
              kind: 'usage',
              hint: 'kiln writes only SLSA provenance by itself; pass --predicate FILE for other types',
            });
          }
          const trackingUri = io.env['MLFLOW_TRACKING_URI'] || ctx.config.mlflow.trackingUri;
          statement = provenancePayload(await provenanceFromLabels(image.store, image, trackingUri));
        }
        const key = await loadSigningKey(flags.key, io);
        const out = await signInFormats(image.store, {
          subject: {
            mediaType: image.manifest.mediaType,
            digest: image.digest,
            size: image.manifest.bytes.length,
          },
          key,
          format,
          sign: false,
          dockerReference: image.identity,
          attestations: [{ statement, predicateType: type }],
          log: ctx.log,
        });
        const att = out.attestations[0];
        const bundle = out.bundles?.bundles[0];
        ctx.log.info(
          `attested ${image.reference} (${[
            att ? `${att.layers} attestation(s) in ${att.tag}` : '',
            bundle ? `bundle ${bundle.manifest}${bundle.added ? '' : ', already there'}` : '',
          ]
            .filter(Boolean)
            .join(', ')})`,
        );
        ctx.result(image.reference, {
          reference: image.reference,
          digest: image.digest,
          predicateType: type,
          format,
          ...(att ? { attestation: { ...att } } : {}),
          ...(out.bundles ? { bundles: out.bundles } : {}),
        });
      }),
    );
