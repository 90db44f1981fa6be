import { resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from '../../config/schema.ts';
import { KilnError } from '../../errors.ts';
import { type Logger, streamLogger } from '../../log.ts';
import type { Promoter } from '../../pipeline/promote-types.ts';
import { WEBHOOK_PATH } from '../../server/webhook-handler.ts';
import { action } from '../context.ts';
import { parseFlags, sourceDateEpoch } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({
  listen: z.string().min(1).optional(),
  webhook: z.boolean(),
  executor: z.enum(['inline', 'job']).optional(),
  concurrency: z.coerce.number().int().min(1).max(64).optional(),
  promoter: z.string().min(1).optional(),
  drainTimeout: z.coerce.number().positive(),
  verbose: z.boolean().optional(),
});
type Flags = z.infer<typeof Flags>;

export const registerServe: RegisterCommand = (program, io) =>
  program
    .command('serve')
    .description('run the MLflow webhook receiver and alias reconciler')
    .option(
      '--listen <host:port>',
      'address for webhooks, /healthz, /readyz, /metrics (default: server.listen)',
    )
    .option('--no-webhook', `do not serve ${WEBHOOK_PATH}; rely on the reconciler alone`)
    .option('--executor <kind>', 'inline (promote in this process) | job (a Kubernetes Job each)')
    .option('--concurrency <n>', 'promotions at once across models (default: 2 inline, 8 job)')
    .option(
      '--promoter <module>',
      'advanced: a module exporting createPromoter(ctx), used instead of kiln promote',
    )
    .option('--drain-timeout <seconds>', 'on SIGINT/SIGTERM, how long running promotions may finish', '30')
    .addHelpText(
      'after',
      `\nMLflow webhook: POST ${WEBHOOK_PATH}, event model_version_alias.created, secret from env\n` +
        'KILN_WEBHOOK_SECRET (required unless --no-webhook). Watched models: kiln.yaml `models:`.\n' +
        'State (queue, history, dedupe) lives in server.stateDir; logs are JSON lines on stderr.\n' +
        'See docs/serve.md for every answer the webhook gives.',
    )
    .action(
      action(io, async (ctx, cmd) => {
        // Loaded when the server starts, not with every kiln command (the pipeline, SQLite...).
        const { lineBuffer } = await import('../../server/line-buffer.ts');
        const { mlflowOptionsFromEnv } = await import('../../mlflow/index.ts');
        const { startServer } = await import('../../server/server.ts');
        const flags = parseFlags(Flags, cmd.optsWithGlobals(), 'serve');
        // The state directory is relative to where kiln runs, as `kiln history` reads it.
        const config = {
          ...ctx.config,
          server: { ...ctx.config.server, stateDir: resolve(io.cwd, ctx.config.server.stateDir) },
        };
        const secret = flags.webhook ? webhookSecret(io.env) : undefined;
        if (config.models.length === 0) {
          throw new KilnError('NO_MODELS_WATCHED', 'kiln serve has no models to watch', {
            kind: 'usage',
            hint: 'list them in kiln.yaml `models:` (name, and alias if not champion)',
          });
        }
        const executor = flags.executor ?? config.server.executor;
        const stderr = lineBuffer(io.stderr);
        const log = streamLogger({
          level: flags.verbose ? 'debug' : 'info',
          json: true,
          write: stderr.write,
        });
        const mlflow = mlflowOptionsFromEnv(io.env, config.mlflow);
        const promoter = await choosePromoter(config, flags, executor, io.env, io.cwd, log);
        const server = await startServer({
          config,
          promoter,
          webhookSecret: secret,
          mlflow,
          listen: flags.listen,
          concurrency: flags.concurrency ?? (executor === 'job' ? 8 : 2),
          drainMs: flags.drainTimeout * 1000,
          env: io.env,
          log,
        });
        const signal = await new Promise<string>((resolve) => {
          const on = (s: NodeJS.Signals) => {
            process.off('SIGINT', on);
            process.off('SIGTERM', on);
            resolve(s);
          };
          process.on('SIGINT', on);
          process.on('SIGTERM', on);
        });
        log.info(`received ${signal}`);
        await server.stop();
        stderr.flush();
      }),
    );

function webhookSecret(env: NodeJS.ProcessEnv): string {
  const secret = env['KILN_WEBHOOK_SECRET'];
  if (secret === undefined || secret === '') {
    throw new KilnError('WEBHOOK_SECRET_MISSING', 'KILN_WEBHOOK_SECRET is not set', {
      kind: 'usage',
      hint:
        "set it to the secret of MLflow's webhook (never in kiln.yaml), " +
        'or pass --no-webhook to rely on the reconciler alone',
    });
  }
  return secret;
}

async function choosePromoter(
  config: Config,
  flags: Flags,
  executor: 'inline' | 'job',
  env: NodeJS.ProcessEnv,
  cwd: string,
  log: Logger,
): Promise<Promoter> {
  const { inlinePromoter, loadPromoterModule } = await import('../../server/promoters.ts');
  const { MlflowClient, mlflowOptionsFromEnv } = await import('../../mlflow/index.ts');
  if (flags.promoter !== undefined) {
    log.warn(`promotions run by ${flags.promoter} (--promoter), not kiln promote`);
    return loadPromoterModule(flags.promoter, cwd, { config, env, log });
  }
  const mlflow = mlflowOptionsFromEnv(env, config.mlflow);
  if (executor === 'job') {
    const job = config.server.job;
    if (!job) {
      throw new KilnError(
        'CONFIG_INVALID',
        'executor "job" needs server.job (namespace, image) in kiln.yaml',
        {
          kind: 'usage',
          hint: 'add server.job.namespace and server.job.image, or use --executor inline',
        },
      );
    }
    const { jobPromoter } = await import('../../server/executor-job.ts');
    return jobPromoter({
      job,
      env,
      context: config.kube.context,
      mlflow: new MlflowClient({ ...mlflow, log }),
      log,
    });
  }
  return inlinePromoter({ config, env, mlflow, sourceDateEpoch: sourceDateEpoch(env), log });
}
