import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { KilnError } from '../../errors.ts';
import type { PromotionRow } from '../../server/state-types.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({ limit: z.coerce.number().int().min(1).max(100_000) });

export const registerHistory: RegisterCommand = (program, io) =>
  program
    .command('history')
    .description('version -> digest -> signed -> deployed for a registered model, newest first')
    .argument('<name>', 'registered model name')
    .option('--limit <n>', 'show at most this many promotions', '50')
    .addHelpText(
      'after',
      "\nReads kiln serve's state store (server.stateDir); it can run while kiln serve does.\n" +
        'STATUS is succeeded, failed, running, queued or superseded (a newer version arrived first).\n' +
        "Without kiln serve's state, it lists the versions kiln promote recorded in MLflow (kiln.* version tags,\n" +
        'STATUS recorded).',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const name = cmd.args[0] as string;
        const { limit } = parseFlags(Flags, cmd.opts(), 'history');
        const dir = resolve(io.cwd, ctx.config.server.stateDir);
        const { STATE_FILE, StateStore } = await import('../../server/state.ts');
        const file = join(dir, STATE_FILE);
        if (!existsSync(file)) {
          // No kiln serve here (promotions ran from the CLI): MLflow's version tags are the record.
          ctx.log.info(`no kiln serve state in ${dir}: showing what MLflow records (kiln.* version tags)`);
          const rows = (
            await fromMlflow(name, io.env, ctx.config.mlflow).catch((e: unknown) => {
              if (e instanceof KilnError && e.code === 'MODEL_NOT_FOUND') throw e;
              throw new KilnError(
                'HISTORY_NOT_FOUND',
                `no kiln serve state in ${dir}, and MLflow's kiln.* tags could not be read: ${(e as Error).message}`,
                {
                  kind: 'usage',
                  cause: e,
                  hint: "run it with kiln serve's kiln.yaml (--config; server.stateDir), or with MLFLOW_TRACKING_URI set to the MLflow kiln promote records into",
                },
              );
            })
          ).slice(0, limit);
          ctx.result(rows.length === 0 ? `no promotions recorded for ${name}` : table(rows), {
            name,
            promotions: rows.map(toJson),
          });
          return;
        }
        const store = new StateStore(file, { readOnly: true });
        let rows: PromotionRow[];
        try {
          rows = store.history(name, limit);
        } finally {
          store.close();
        }
        const { readAnalyses, analysesText } = await import('./history-analyses.ts');
        const analyses = readAnalyses(file, name, limit);
        const text = rows.length === 0 ? `no promotions recorded for ${name}` : table(rows);
        ctx.result(analyses.length === 0 ? text : `${text}\n\n${analysesText(analyses)}`, {
          name,
          promotions: rows.map(toJson),
          analyses,
        });
      }),
    );

/** Versions that kiln promote recorded an image for, from MLflow's kiln.* tags, newest first. */
async function fromMlflow(
  name: string,
  env: NodeJS.ProcessEnv,
  fallback: { trackingUri?: string | undefined },
): Promise<PromotionRow[]> {
  const { MlflowClient, mlflowOptionsFromEnv } = await import('../../mlflow/index.ts');
  const { searchModelVersions } = await import('../../mlflow/search.ts');
  const { TAGS } = await import('../../pipeline/promote.ts');
  // A person is waiting: one attempt with a short timeout, not the promote path's minutes of retries.
  const client = new MlflowClient({
    ...mlflowOptionsFromEnv(env, fallback),
    retry: { attempts: 1 },
    timeoutMs: 5000,
  });
  const { versions } = await searchModelVersions(client, name);
  if (versions.length === 0) {
    throw new KilnError('MODEL_NOT_FOUND', `MLflow has no registered model "${name}"`, {
      kind: 'usage',
      hint: 'check the name (kiln history takes the registered model name, not a models:/ URI)',
    });
  }
  return (
    versions
      .filter((v) => v.tags[TAGS.digest])
      // MLflow records what was promoted, not when or how often: the row's other fields stay empty.
      .map(
        (v) =>
          ({
            name,
            version: v.version,
            status: 'recorded',
            digest: v.tags[TAGS.digest],
            reference: v.tags[TAGS.image],
            signed: v.tags[TAGS.signed] === undefined ? undefined : v.tags[TAGS.signed] === 'true',
            deployedTo: v.tags[TAGS.deployedTo],
            source: 'mlflow',
          }) as unknown as PromotionRow,
      )
  );
}

function toJson(r: PromotionRow) {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    version: r.version,
    status: r.status,
    digest: r.digest,
    reference: r.reference,
    signed: r.signed,
    deployedTo: r.deployedTo,
    reused: r.reused,
    bytesPushed: r.bytesPushed,
    source: r.source,
    attempts: r.attempts,
    queuedAt: iso(r.queuedAt),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    error: r.error,
  };
}

function table(rows: PromotionRow[]): string {
  const head = ['VERSION', 'STATUS', 'DIGEST', 'SIGNED', 'DEPLOYED TO', 'FINISHED', 'ERROR'];
  const body = rows.map((r) => [
    r.version,
    r.status,
    r.digest ?? '-',
    r.signed === undefined ? '-' : r.signed ? 'yes' : 'no',
    r.deployedTo ?? '-',
    r.finishedAt === undefined ? '-' : new Date(r.finishedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    r.error ? r.error.split('\n')[0]!.slice(0, 80) : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  return [head, ...body]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
