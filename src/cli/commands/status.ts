import { shortDigest } from '../../kserve/reference.ts';
import { getStatus, type StatusReport } from '../../kserve/status.ts';
import { action } from '../context.ts';
import { kubeOptions, openIsvc } from './kube-flags.ts';
import type { RegisterCommand } from './types.ts';

export const registerStatus: RegisterCommand = (program, io) =>
  kubeOptions(
    program
      .command('status')
      .description('which digest serves what share of traffic, and which MLflow version each is'),
  ).action(
    action(io, async (ctx, cmd) => {
      const { kube, ref } = await openIsvc(ctx, cmd, io);
      const report = await getStatus(kube, ref);
      ctx.result(formatStatus(report), { ...report });
    }),
  );

/** The table people read; `--json` prints the StatusReport itself. */
export function formatStatus(r: StatusReport): string {
  const dash = (v: unknown): string => (v === undefined || v === '' ? '-' : String(v));
  const lines = [
    `${r.namespace}/${r.name}  ${r.deploymentMode}  ready: ${dash(r.ready)}  generation ${dash(r.generation)}, observed ${dash(r.observedGeneration)}${r.reconciled ? '' : ' (controller has not caught up)'}`,
    `spec:  ${dash(r.image)}  ${r.model ? `${r.model} version ${dash(r.version)}` : '(model unknown)'}  ${r.canaryPercent === undefined ? 'no canary' : `canary ${r.canaryPercent}%`}`,
  ];
  if (r.analysis) lines.push(...formatAnalysis(r.analysis));
  if (r.revisions.length === 0) {
    lines.push('revisions: none reported by KServe yet');
    return lines.join('\n');
  }
  const rows = [
    ['REVISION', 'TRAFFIC', 'DIGEST', 'MODEL', 'VERSION', 'TAG', 'STATUS'],
    ...r.revisions.map((v) => [
      v.revision,
      v.percent === undefined ? '-' : `${v.percent}%`,
      v.digest ? shortDigest(v.digest) : 'unknown',
      dash(v.model),
      dash(v.version),
      tagOf(v),
      dash(v.roles.join(',')),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  lines.push(
    '',
    ...rows.map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    ),
  );
  return lines.join('\n');
}

/** The canary analysis: where it is, and the last judgement with each check's verdict and why. */
function formatAnalysis(a: NonNullable<StatusReport['analysis']>): string[] {
  const at = a.percent === undefined ? '' : ` at ${a.percent}%`;
  const out = [
    `analysis: ${a.phase}, step ${a.step}${at}${a.version ? ` (version ${a.version})` : ''}${a.reason ? `: ${a.reason}` : ''}`,
  ];
  if (a.last) {
    out.push(`  last check ${a.last.at}: ${a.last.verdict} -> ${a.last.action}`);
    for (const c of a.last.checks)
      out.push(`    ${c.verdict.toUpperCase().padEnd(12)} ${c.check}: ${c.reason}`);
  }
  if (a.nextCheckAt && a.phase !== 'promoted' && a.phase !== 'aborted')
    out.push(`  next check ${a.nextCheckAt}`);
  return out;
}

/** KServe tags the canary "latest" and the rolled-out one "prev"; say "latest" once. */
function tagOf(v: StatusReport['revisions'][number]): string {
  if (!v.latest) return v.tag ?? '-';
  return v.tag && v.tag !== 'latest' ? `${v.tag},latest` : 'latest';
}
