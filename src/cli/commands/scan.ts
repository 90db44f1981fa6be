import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { KilnError } from '../../errors.ts';
import { action } from '../context.ts';
import { parseFlags } from './flags.ts';
import type { RegisterCommand } from './types.ts';

const Flags = z.object({ sarif: z.string().min(1).optional() });

// kiln scan: the gate on its own, like picklescan/ModelScan but role-aware and default deny.
// Exit 0 clean (warnings allowed), 3 blocked, 1 could not scan (docs/scan.md).
export const registerScan: RegisterCommand = (program, io) =>
  program
    .command('scan')
    .description(
      'scan model files for code that runs on load (pickles, zips, joblib, npy, safetensors, ONNX)',
    )
    .argument(
      '<source>',
      'models:/NAME@ALIAS | models:/NAME/VERSION | FILE | DIR | oci:DIR[:tag] | host/repo[:tag|@digest]',
    )
    .option('--sarif <file>', 'also write the findings as SARIF 2.1.0')
    .addHelpText(
      'after',
      '\nAllowed globals and approved files come from build.scan in kiln.yaml (docs/scan.md).',
    )
    .action(
      action(io, async (ctx, cmd) => {
        const { Scanner, describeFinding, scanSummary, toSarif } = await import('../../scan/index.ts');
        const { scanSettings, scanBlocked } = await import('../../pipeline/scan-gate.ts');
        const { scanSpec } = await import('../../pipeline/scan-source.ts');
        const { mlflowOptionsFromEnv } = await import('../../mlflow/index.ts');
        const flags = parseFlags(Flags, cmd.opts(), 'scan');
        const spec = cmd.args[0]!;
        const name = /^models:\/([^/@]+)/.exec(spec)?.[1];
        const settings = scanSettings(ctx.config, name);
        // sha256 in the same pass (approvals match files by it). Measured on a quiet 2-core machine,
        // 2 GiB array pickle: inline 2.4-2.6 s and 153 MiB peak, a hashing worker thread 2.7 s and
        // 300 MiB (the copies handed to the worker cost more than the overlap gained).
        const scanner = new Scanner({ allow: settings.allow, approve: settings.approve, hash: true });
        const reports = await scanSpec(spec, scanner, {
          mlflow: () => mlflowOptionsFromEnv(io.env, ctx.config.mlflow),
          transport: { insecure: ctx.config.registry.insecure, log: ctx.log },
          log: ctx.log,
        });
        if (reports.length === 0) {
          throw new KilnError('SCAN_NOTHING', `${spec} holds no files to scan`, {
            hint: 'name a model, file or folder with files',
          });
        }
        for (const r of reports) {
          io.stderr(
            `${r.file}: ${r.kind}, ${r.verdict}${r.findings.length ? `, ${r.findings.length} finding(s)` : ''}\n`,
          );
          for (const f of r.findings)
            io.stderr(`  ${f.severity.toUpperCase()} ${describeFinding(f)}\n    fix: ${f.fix}\n`);
        }
        if (flags.sarif) await writeFile(flags.sarif, `${JSON.stringify(toSarif(reports), null, 2)}\n`);
        const summary = scanSummary(scanner.policy, reports);
        ctx.result(summary.verdict, { ...summary, reports });
        if (summary.verdict === 'block') throw scanBlocked(reports, 'do not load or deploy it');
      }),
    );
