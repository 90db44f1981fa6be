import { z } from 'zod';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import { loadVerifyKey } from './signing.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({
  to: z.string().min(1),
  key: z.string().min(1),
  manifests: z.string().min(1).default('./kiln-deploy'),
});

// The air gap, inbound (docs/airgap.md): verify everything with the key inside the archive,
// push into the one registry reachable, verify again there, then tags and manifests.
export const registerImport: RegisterCommand = (program, io) =>
  program
    .command('import')
    .description('push a kiln export archive into a registry, verifying every signature with the key first')
    .argument('<archive>', 'the FILE.tar kiln export wrote')
    .requiredOption(
      '--to <registry/prefix>',
      'registry and repository prefix, e.g. registry.internal:5000/ml',
    )
    .requiredOption(
      '--key <file>',
      'public key (cosign.pub) every signature and attestation must verify with',
    )
    .option('--manifests <dir>', 'where the rewritten InferenceService YAML goes', './kiln-deploy')
    .action(
      action(io, async (ctx, cmd) => {
        const { resolve } = await import('node:path');
        const { importArchive } = await import('../../airgap/import.ts');
        const { parseReference } = await import('../../oci/reference.ts');
        const { registryFor } = await import('../../pipeline/targets.ts');
        const flags = parseFlags(Flags, cmd.opts(), 'import');
        const dest = parseReference(flags.to);
        const key = await loadVerifyKey(flags.key, io);
        const images = await importArchive(resolve(io.cwd, cmd.args[0]!), {
          registry: registryFor(dest.registry, { insecure: ctx.config.registry.insecure, log: ctx.log }),
          prefix: dest.repository,
          key,
          manifestsDir: resolve(io.cwd, flags.manifests),
          log: ctx.log,
        });
        ctx.result(images.map((i) => i.reference).join('\n'), { images });
      }),
    );
