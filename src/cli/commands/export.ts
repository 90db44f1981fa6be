import { z } from 'zod';
import { KilnError } from '../../errors.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({ to: z.string().min(1), namespace: z.string().min(1).optional() });

// The air gap, outbound (docs/airgap.md): one archive with the images, every signature,
// bundle and attestation, the InferenceService manifests and a checksummed index.
export const registerExport: RegisterCommand = (program, io) =>
  program
    .command('export')
    .description(
      'pack images (all platforms), their signatures, attestations and InferenceService manifests into one archive for an air gap',
    )
    .argument(
      '<images...>',
      'host[:port]/repo[:tag]@sha256:... or oci:DIR@sha256:... (digests; a tag given next to the digest is kept)',
    )
    .requiredOption(
      '--to <file>',
      'the archive to write (FILE.tar; written whole, renamed into place when done)',
    )
    .option(
      '--namespace <ns>',
      'namespace of the InferenceService manifests (default: kube.namespace, else default)',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const { resolve } = await import('node:path');
        const { exportImages } = await import('../../airgap/export.ts');
        const { parseLocation, registryFor } = await import('../../pipeline/targets.ts');
        const { OciLayout } = await import('../../oci/layout/layout.ts');
        const { RegistryRepository } = await import('../../oci/remote/repository.ts');
        const flags = parseFlags(Flags, cmd.opts(), 'export');
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const sources = [];
        for (const spec of cmd.args) {
          const loc = parseLocation(spec);
          if (loc.kind === 'registry' && loc.ref.digest) {
            const repository = `${loc.ref.registry}/${loc.ref.repository}`;
            const source = new RegistryRepository(
              registryFor(loc.ref.registry, transport),
              loc.ref.repository,
            );
            sources.push({
              source,
              repository,
              digest: loc.ref.digest,
              tags: loc.ref.tag ? [loc.ref.tag] : [],
            });
          } else if (loc.kind === 'layout' && loc.ref?.startsWith('sha256:')) {
            const source = await OciLayout.open(loc.dir, { create: false });
            const name = loc.dir.split('/').filter(Boolean).pop() ?? 'image';
            sources.push({
              source,
              repository: `localhost/${name}`,
              digest: loc.ref as `sha256:${string}`,
              tags: [],
            });
          } else {
            throw new KilnError(
              'DIGEST_REQUIRED',
              `"${spec}" does not name a digest: export digests, not tags`,
              {
                kind: 'usage',
                hint: 'pass IMAGE@sha256:... (add the tag before the digest to carry it: repo:v3@sha256:...)',
              },
            );
          }
        }
        const res = await exportImages(sources, resolve(io.cwd, flags.to), {
          namespace: flags.namespace ?? ctx.config.kube.namespace ?? 'default',
          log: ctx.log,
        });
        ctx.log.info(
          `wrote ${res.file} (${res.bytes} bytes, ${res.images.length} image(s)); index ${res.indexDigest}`,
        );
        ctx.result(res.file, { ...res });
      }),
    );
