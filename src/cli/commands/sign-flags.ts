import { z } from 'zod';
import { SignatureFormatSchema } from '../../config/schema.ts';
import { KilnError } from '../../errors.ts';
import { SLSA_PROVENANCE_V1 } from '../../sign/provenance.ts';

// Flags shared by sign, attest and verify, validated with the same enum as kiln.yaml's
// build.signatureFormat.

/** cosign's --type names kiln knows; anything with a ':' is taken as the predicate type URI. */
const TYPES: Record<string, string> = {
  slsaprovenance1: SLSA_PROVENANCE_V1,
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

export function predicateType(name: string): string {
  const t = TYPES[name] ?? (name.includes(':') ? name : undefined);
  if (!t) {
    throw new KilnError('USAGE', `--type ${name} is not slsaprovenance1, custom or a URI`, {
      kind: 'usage',
      hint: 'use --type slsaprovenance1 (the default), or the predicate type URI',
    });
  }
  return t;
}

export const VerifyFlags = z.object({
  key: z.string().min(1),
  attestation: z.boolean().optional(),
  type: z.string().min(1).optional(),
  signatureFormat: z.enum(['auto', 'classic', 'bundle', 'both']).default('auto'),
});

export const SignFormatFlag = SignatureFormatSchema.optional();
