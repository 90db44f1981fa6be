import { z } from 'zod';
import { action } from '../context.ts';
import { BuildFlags, parseFlags, SCAN_FLAG_HELP, sourceDateEpoch } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = BuildFlags.extend({
  deploy: z.string().min(1).optional(),
  canary: z.coerce.number().int().min(0).max(100).optional(),
  gitops: z.string().min(1).optional(),
  manifests: z.string().min(1).optional(),
  dryRun: z.boolean().optional(),
  record: z.boolean().optional(),
});

export const registerPromote: RegisterCommand = (program, io) =>
  program
    .command('promote')
    .description('resolve -> bake -> push -> sign -> deploy -> record, for one model alias or version')
    .argument('<model>', 'models:/NAME@ALIAS or models:/NAME/VERSION')
    .option(
      '--to <target>',
      'registry repository, oci:DIR or oci-archive:FILE.tar (default: models[].target, build.target)',
    )
    .option('--base <image>', 'runtime base image to bake onto (default: models[].base, build.base)')
    .option('--mode <mode>', 'baked | modelcar (default: baked)')
    .option('--compression <c>', 'gzip | zstd | none (default: gzip)')
    .option('--tag <template>', 'tag template; {version} and {name} are replaced (default: v{version})')
    .option('--sign-key <file>', 'cosign private key to sign and attest with (password: COSIGN_PASSWORD)')
    .option('--signature-format <f>', 'classic | bundle | both (default: models[], build.signatureFormat)')
    .option('--scan <mode>', SCAN_FLAG_HELP)
    .option('--deploy <ns/name>', 'InferenceService to point at the new digest (default: models[].deploy)')
    .option('--canary <percent>', 'traffic share for the new revision (default: none, a full rollout)')
    .option('--gitops <dir>', 'write the InferenceService into this git work tree instead of the cluster')
    .option(
      '--manifests <dir>',
      'write the InferenceService YAML into DIR instead of applying it (default without --deploy: ./kiln-deploy)',
    )
    .option('--dry-run', 'check every destination and print what would happen; move nothing')
    .option('--record', 'write kiln.* tags to MLflow even for an oci: or oci-archive: target')
    .addHelpText(
      'after',
      '\nSettings for a model come from flags, then its entry in kiln.yaml `models:`, then `build:`.\n' +
        'Idempotent: a version whose image is already recorded in MLflow, present and signed is not rebuilt.\n' +
        'MLflow version tags written back: kiln.image, kiln.digest, kiln.signed, kiln.deployed_to.',
    )
    .action(
      action(io, async (ctx, cmd) => {
        // Loaded when the command runs, not when kiln starts: `kiln rollback` must not pay for MLflow, OCI and SQLite code.
        const { mlflowOptionsFromEnv, parseModelUri } = await import('../../mlflow/index.ts');
        const { k8sName, planPromotion, promote, promoteSettings } = await import(
          '../../pipeline/promote.ts'
        );
        const { scanSettings } = await import('../../pipeline/scan-gate.ts');
        const { processTty, resolvePassword } = await import('../../sign/password.ts');
        const flags = parseFlags(Flags, cmd.opts(), 'promote');
        const ref = parseModelUri(cmd.args[0]!);
        const settings = promoteSettings(ctx.config, ref.name, {
          target: flags.to,
          base: flags.base,
          mode: flags.mode,
          compression: flags.compression,
          tag: flags.tag,
          signKey: flags.signKey,
          manifests: flags.manifests,
          canary: flags.canary,
          record: flags.record,
          signatureFormat: flags.signatureFormat,
          scan: scanSettings(ctx.config, ref.name, flags.scan),
          deploy:
            flags.deploy || flags.gitops
              ? {
                  inferenceService: flags.deploy ?? `default/${k8sName(ref.name)}`,
                  canary: flags.canary,
                  gitops: flags.gitops,
                }
              : undefined,
        });
        if (settings.deploy && flags.canary !== undefined) settings.deploy.canary = flags.canary;
        const request = {
          name: ref.name,
          alias: 'alias' in ref ? ref.alias : undefined,
          version: 'version' in ref ? ref.version : undefined,
        };
        const penv = {
          mlflow: mlflowOptionsFromEnv(io.env, ctx.config.mlflow),
          env: io.env,
          keyPassword: () =>
            resolvePassword({
              env: io.env,
              tty: processTty(),
              confirm: false,
              purpose: `private key ${settings.signKey}`,
            }),
          sourceDateEpoch: sourceDateEpoch(io.env),
          log: ctx.log,
        };
        if (flags.dryRun) {
          const steps = await planPromotion(request, settings, penv);
          ctx.result(
            `dry run: nothing was changed. kiln promote would:\n${steps.map((l) => `  - ${l}`).join('\n')}`,
            {
              dryRun: true,
              steps,
            },
          );
          return;
        }
        const res = await promote({ ...request, signal: ctx.signal }, settings, {
          ...penv,
          onProgress: ctx.progress.sink,
        });
        ctx.progress.finish('moved');
        ctx.result(res.reference, { ...res });
      }),
    );
