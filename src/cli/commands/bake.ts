import { z } from 'zod';
import type { SignedBake } from '../../pipeline/sign.ts';
import { action } from '../context.ts';
import { BuildFlags, parseFlags, SCAN_FLAG_HELP, sourceDateEpoch } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = BuildFlags.extend({ forceTag: z.boolean().optional() });

export const registerBake: RegisterCommand = (program, io) =>
  program
    .command('bake')
    .description('bake an MLflow model version into an OCI image and push it by digest')
    .argument('<model>', 'models:/NAME@ALIAS or models:/NAME/VERSION')
    .option(
      '--to <target>',
      'registry repository, oci:DIR or oci-archive:FILE.tar (default: oci:./kiln-images, or build.target)',
    )
    .option('--base <image>', 'base image: registry reference or oci:DIR[:tag|@digest] (default: build.base)')
    .option(
      '--mode <mode>',
      'baked (files in /mnt/models) | modelcar (files in /models) (default: baked, or build.mode)',
    )
    .option('--compression <c>', 'gzip | zstd | none (default: gzip, or build.compression)')
    .option('--tag <template>', 'tag template; {version} is the model version (default: v{version})')
    .option('--force-tag', 'move the tag even if it points at another digest')
    .option('--scan <mode>', SCAN_FLAG_HELP)
    .option('--sign-key <file>', 'sign and attest (SLSA provenance) before tagging (default: build.signKey)')
    .option(
      '--signature-format <f>',
      'classic (.sig/.att tags) | bundle (Sigstore bundles as OCI referrers) | both (default: build.signatureFormat)',
    )
    .addHelpText(
      'after',
      '\nMLflow is reached through MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_TOKEN,\n' +
        '_USERNAME, _PASSWORD). Registry credentials come from ~/.docker/config.json.\n' +
        'SOURCE_DATE_EPOCH pins timestamps.',
    )
    .action(
      action(io, async (ctx, cmd) => {
        // Loaded when the command runs, not when kiln starts: `kiln rollback` must not pay for MLflow, OCI and SQLite code.
        const { mlflowOptionsFromEnv, parseModelUri } = await import('../../mlflow/index.ts');
        const { bake } = await import('../../pipeline/bake.ts');
        const { mlflowModel } = await import('../../pipeline/mlflow-source.ts');
        const { signingHook } = await import('../../pipeline/sign.ts');
        const { ScanGate, scanSettings } = await import('../../pipeline/scan-gate.ts');
        const { tagFor } = await import('../../pipeline/tags.ts');
        const { openSource, openTarget, specTag } = await import('../../pipeline/targets.ts');
        const { loadSigningKey } = await import('./signing.ts');
        const { preflight } = await import('../../pipeline/preflight.ts');
        const flags = parseFlags(Flags, cmd.opts(), 'bake');
        const b = ctx.config.build;
        const transport = { insecure: ctx.config.registry.insecure, log: ctx.log };
        const mode = flags.mode ?? b.mode;
        const compression = flags.compression ?? b.compression;
        // Usage errors before any network call (MLflow, registry).
        parseModelUri(cmd.args[0]!);
        preflight({
          target: flags.to ?? b.target,
          base: flags.base ?? b.base,
          mode,
          tag: flags.tag ?? b.tag,
        });
        // The key (and its password) first: a wrong password must fail before anything is pushed.
        const signKeyFile = flags.signKey ?? b.signKey;
        const key = signKeyFile ? await loadSigningKey(signKeyFile, io) : undefined;
        const mlflow = mlflowOptionsFromEnv(io.env, ctx.config.mlflow);
        const model = await mlflowModel(cmd.args[0]!, mlflow, ctx.log);
        const gate = new ScanGate(scanSettings(ctx.config, model.facts.name, flags.scan), ctx.log);
        const baseSpec = flags.base ?? b.base;
        if (!baseSpec)
          ctx.log.warn('no --base given: the image holds only the model files, no serving runtime');
        const base = baseSpec ? await openSource(baseSpec, transport) : undefined;
        const targetSpec = flags.to ?? b.target;
        const tagInSpec = specTag(targetSpec);
        const tag = tagInSpec ?? tagFor(flags.tag ?? b.tag, model.facts);
        // Opened last: an archive target creates its (partial) file on open.
        const { target } = await openTarget(targetSpec, transport);
        let signed: SignedBake | undefined;
        const beforeTag = key
          ? signingHook(
              key,
              {
                modelUri: cmd.args[0]!,
                trackingUri: mlflow.trackingUri,
                alias: model.info.alias,
                sourceUri: model.facts.source,
                target: flags.to ?? b.target,
                mode,
                compression,
                base: baseSpec,
              },
              {
                log: ctx.log,
                format: flags.signatureFormat ?? b.signatureFormat,
                onSigned: (s) => {
                  signed = s;
                },
              },
            )
          : undefined;
        const res = await bake({
          scan: gate,
          model,
          target,
          base,
          mode,
          compression,
          tag,
          forceTag: flags.forceTag === true,
          sourceDateEpoch: sourceDateEpoch(io.env),
          ...(beforeTag ? { beforeTag } : {}),
          log: ctx.log,
          onProgress: ctx.progress.sink,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        ctx.progress.finish('moved');
        if (!res.reused) ctx.log.info(`pushed ${target.name}:${tag}`);
        // One --json shape: `scan` is null when nothing was scanned in this run (scanning off, or
        // the tag already held this bake: it was scanned when it was first baked).
        ctx.result(res.reference, { ...res, scan: res.scan ?? null, ...(signed ? { signed } : {}) });
      }),
    );
