import { z } from 'zod';
import { CompressionSchema, ModeSchema, SignatureFormatSchema } from '../../config/schema.ts';
import { KilnError } from '../../errors.ts';

// Flag values are validated with the same zod enums as kiln.yaml, so a bad --mode and a bad
// `build.mode:` read the same way.

export function parseFlags<T>(schema: z.ZodType<T>, raw: unknown, command: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map(
    (i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`,
  );
  throw new KilnError('USAGE', `kiln ${command}: ${lines.join('; ')}`, {
    kind: 'usage',
    hint: `see kiln ${command} --help`,
  });
}

/** SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/), validated. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['SOURCE_DATE_EPOCH'];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new KilnError(
      'SOURCE_DATE_EPOCH_INVALID',
      `SOURCE_DATE_EPOCH="${raw}" is not a whole number of seconds`,
      {
        kind: 'usage',
        hint: 'set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
      },
    );
  }
  return Number(raw);
}

/** The build flags `bake` and `promote` share, checked with the same enums as kiln.yaml. */
export const BuildFlags = z.object({
  to: z.string().min(1).optional(),
  base: z.string().min(1).optional(),
  mode: ModeSchema.optional(),
  compression: CompressionSchema.optional(),
  tag: z.string().min(1).optional(),
  signKey: z.string().min(1).optional(),
  signatureFormat: SignatureFormatSchema.optional(),
  scan: z.enum(['block', 'warn', 'off']).optional(),
});

export const SCAN_FLAG_HELP = 'model security scan: block (default) | warn | off (see docs/scan.md)';
