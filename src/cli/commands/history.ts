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
        'STATUS is succeeded, failed, running, queued or superseded (a newer version arrived first).',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const name = cmd.args[0] as string;
        const { limit } = parseFlags(Flags, cmd.opts(), 'history');
        const dir = resolve(io.cwd, ctx.config.server.stateDir);
        const { STATE_FILE, StateStore } = await import('../../server/state.ts');
        const file = join(dir, STATE_FILE);
        if (!existsSync(file)) {
          throw new KilnError('STATE_NOT_FOUND', `no kiln serve state in ${dir}`, {
            kind: 'usage',
            hint: 'run it where kiln serve runs, with the same kiln.yaml (server.stateDir)',
          });
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
