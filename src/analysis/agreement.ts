// Prediction agreement, before any traffic moves: the input example logged with the model in MLflow
// (input_example.json, and optionally a dataset file of the version) goes to the canary and to the
// primary over KServe's V1 protocol, and the answers are compared. Progressive-delivery tools check
// that a canary serves; this checks that it answers like the version it replaces.
import type { RolloutPolicy } from '../config/rollout.ts';
import { getModelVersion, listModelFiles, type MlflowClient, openModelFile } from '../mlflow/index.ts';
import type { CheckResult } from './types.ts';

type Tolerance = Pick<RolloutPolicy['agreement'], 'absTolerance' | 'relTolerance' | 'minAgreement'>;

const WARMUP_REQUESTS = 20;

/** Example payloads are small; a bigger "example" is a mistake, not something to stream into memory. */
const MAX_EXAMPLE_BYTES = 8 << 20;

/**
 * Rows to send, from MLflow's saved example formats: a JSON list (ndarray/list examples),
 * {"columns","data"} (pandas split orient), {"inputs"} / {"instances"} / {"dataframe_split"} /
 * {"dataframe_records"} (serving payloads).
 */
export function exampleRows(doc: unknown): unknown[] | undefined {
  if (Array.isArray(doc)) return doc;
  if (typeof doc !== 'object' || doc === null) return undefined;
  const o = doc as Record<string, unknown>;
  for (const k of ['instances', 'inputs', 'data']) if (Array.isArray(o[k])) return o[k] as unknown[];
  if (typeof o['dataframe_split'] === 'object' && o['dataframe_split'] !== null) {
    return exampleRows(o['dataframe_split']);
  }
  if (Array.isArray(o['dataframe_records'])) return o['dataframe_records'] as unknown[];
  return undefined;
}

/** input_example.json (+ the configured dataset file) of a model version, as rows; [] when none is logged. */
export async function loadExamples(
  client: MlflowClient,
  name: string,
  version: string,
  dataset: string | undefined,
): Promise<{ rows: unknown[]; sources: string[] }> {
  const info = await getModelVersion(client, name, version);
  const files = await listModelFiles(client, info);
  const rows: unknown[] = [];
  const sources: string[] = [];
  for (const wanted of ['input_example.json', ...(dataset ? [dataset] : [])]) {
    const file = files.find((f) => f.path === wanted);
    if (!file || file.size > MAX_EXAMPLE_BYTES) continue;
    const chunks: Buffer[] = [];
    for await (const c of openModelFile(client, info, file)) chunks.push(c as Buffer);
    const got = exampleRows(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    if (got) {
      rows.push(...got);
      sources.push(`models:/${name}/${version} ${wanted}`);
    }
  }
  return { rows, sources };
}

export interface Endpoints {
  canary: string | undefined;
  primary: string | undefined;
  /** The V1 model name (kiln deploys --model_name=<InferenceService name>). */
  model: string;
}

async function predict(
  base: string,
  model: string,
  rows: unknown[],
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base.replace(/\/+$/, '')}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: rows }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

export async function checkAgreement(
  rows: unknown[],
  sources: string[],
  ep: Endpoints,
  tol: Tolerance,
  at: string,
): Promise<CheckResult> {
  const base = { check: 'prediction-agreement', type: 'agreement', at, test: undefined };
  const threshold = `agreement >= ${tol.minAgreement} (numbers within ${tol.absTolerance} + ${tol.relTolerance}*|x|)`;
  if (rows.length === 0) {
    return {
      ...base,
      verdict: 'pass',
      reason: 'skipped: the model version has no input example logged in MLflow',
      queries: [],
      values: {},
      threshold,
    };
  }
  if (!ep.canary || !ep.primary) {
    return {
      ...base,
      verdict: 'pass',
      reason:
        'skipped: the InferenceService status lists no separate canary/primary URLs (annotate it serving.kserve.io/enable-tag-routing: "true")',
      queries: [],
      values: { canaryUrl: ep.canary, primaryUrl: ep.primary },
      threshold,
    };
  }
  const queries = [
    `POST ${ep.canary}/v1/models/${ep.model}:predict`,
    `POST ${ep.primary}/v1/models/${ep.model}:predict`,
  ];
  // Warm the canary first (a fresh model server's first requests are slow): the answers that are
  // compared come after, and its first metric step does not start cold.
  for (let i = 0; i < WARMUP_REQUESTS; i++) await predict(ep.canary, ep.model, rows).catch(() => undefined);
  const [c, p] = await Promise.all([predict(ep.canary, ep.model, rows), predict(ep.primary, ep.model, rows)]);
  const values: Record<string, unknown> = {
    rows: rows.length,
    sources,
    canaryStatus: c.status,
    primaryStatus: p.status,
  };
  if (c.status !== 200) {
    return {
      ...base,
      verdict: 'fail',
      reason: `the canary answered HTTP ${c.status} to the input example`,
      queries,
      values,
      threshold,
    };
  }
  if (p.status !== 200) {
    return {
      ...base,
      verdict: 'inconclusive',
      reason: `the primary answered HTTP ${p.status} to the input example`,
      queries,
      values,
      threshold,
    };
  }
  const cmp = compareAnswers(c.body, p.body, tol);
  Object.assign(values, { agreement: cmp.agreement, mismatches: cmp.mismatches.slice(0, 5) });
  if (cmp.schemaError) {
    return {
      ...base,
      verdict: 'fail',
      reason: `answers differ in shape: ${cmp.schemaError}`,
      queries,
      values,
      threshold,
    };
  }
  const ok = cmp.agreement >= tol.minAgreement;
  return {
    ...base,
    verdict: ok ? 'pass' : 'fail',
    reason: `${Math.round(cmp.agreement * rows.length)}/${rows.length} predictions agree (${(cmp.agreement * 100).toFixed(1)}%, need ${(tol.minAgreement * 100).toFixed(1)}%)`,
    queries,
    values,
    threshold,
  };
}

export interface Comparison {
  agreement: number;
  mismatches: Array<{ row: number; canary: unknown; primary: unknown }>;
  schemaError: string | undefined;
}

/** Classification labels must be equal; numbers within tolerance; lists/objects element by element. */
export function compareAnswers(canary: unknown, primary: unknown, tol: Tolerance): Comparison {
  const cp = predictionsOf(canary);
  const pp = predictionsOf(primary);
  if (!cp || !pp)
    return {
      agreement: 0,
      mismatches: [],
      schemaError: `no "predictions" list in the ${cp ? 'primary' : 'canary'}'s answer`,
    };
  if (cp.length !== pp.length) {
    return {
      agreement: 0,
      mismatches: [],
      schemaError: `${cp.length} predictions from the canary, ${pp.length} from the primary`,
    };
  }
  const mismatches: Comparison['mismatches'] = [];
  for (let i = 0; i < cp.length; i++) {
    const shape = shapeDiff(cp[i], pp[i]);
    if (shape) return { agreement: 0, mismatches: [], schemaError: `prediction ${i}: ${shape}` };
    if (!same(cp[i], pp[i], tol)) mismatches.push({ row: i, canary: cp[i], primary: pp[i] });
  }
  return {
    agreement: cp.length === 0 ? 1 : (cp.length - mismatches.length) / cp.length,
    mismatches,
    schemaError: undefined,
  };
}

function predictionsOf(body: unknown): unknown[] | undefined {
  const p = (body as { predictions?: unknown } | undefined)?.predictions;
  return Array.isArray(p) ? p : undefined;
}

function kind(v: unknown): string {
  return Array.isArray(v) ? `list[${v.length}]` : v === null ? 'null' : typeof v;
}

function shapeDiff(a: unknown, b: unknown): string | undefined {
  if (kind(a) !== kind(b)) return `canary answers ${kind(a)}, primary ${kind(b)}`;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < a.length; i++) {
      const d = shapeDiff(a[i], b[i]);
      if (d) return d;
    }
  } else if (typeof a === 'object' && a !== null) {
    const ka = Object.keys(a).sort().join(',');
    const kb = Object.keys(b as object)
      .sort()
      .join(',');
    if (ka !== kb) return `canary answers keys {${ka}}, primary {${kb}}`;
  }
  return undefined;
}

function same(a: unknown, b: unknown, tol: Tolerance): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= tol.absTolerance + tol.relTolerance * Math.abs(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.every((x, i) => same(x, b[i], tol));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return Object.keys(a).every((k) =>
      same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol),
    );
  }
  return a === b;
}
