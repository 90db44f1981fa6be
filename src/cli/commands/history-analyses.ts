import { AnalysisStore } from '../../server/analysis-store.ts';

// `kiln history NAME`: the canary analyses kiln serve ran for the model, each decision with its
// checks (the evidence is in --json: queries, values, thresholds, test results).

export function readAnalyses(file: string, model: string, limit: number) {
  const store = new AnalysisStore(file, { readOnly: true });
  try {
    if (!store.hasTables) return [];
    return store.forModel(model, limit).map((r) => ({
      id: r.id,
      inferenceService: `${r.namespace}/${r.name}`,
      version: r.version,
      image: r.image,
      status: r.status,
      reason: r.state.reason ?? r.error,
      startedAt: new Date(r.startedAt).toISOString(),
      finishedAt: r.finishedAt === undefined ? undefined : new Date(r.finishedAt).toISOString(),
      decisions: store.decisions(r.id),
    }));
  } finally {
    store.close();
  }
}

export function analysesText(runs: ReturnType<typeof readAnalyses>): string {
  const out: string[] = ['CANARY ANALYSES'];
  for (const r of runs) {
    out.push(
      `version ${r.version ?? '?'} on ${r.inferenceService}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`,
    );
    for (const d of r.decisions) {
      const where = d.step < 0 ? 'agreement' : `step ${d.step + 1} (${d.percent}%)`;
      out.push(`  ${d.at}  ${where}: ${d.verdict} -> ${d.action}`);
      for (const c of d.checks) out.push(`      ${c.verdict.padEnd(12)} ${c.check}: ${c.reason}`);
    }
  }
  return out.join('\n');
}
