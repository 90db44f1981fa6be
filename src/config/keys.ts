import { isAbsolute, resolve } from 'node:path';
import {
  BuildSchema,
  DeploySchema,
  KubeSchema,
  MlflowSchema,
  RegistrySchema,
  ServerSchema,
  WatchedModelSchema,
} from './schema.ts';

// Helpers for config errors and paths: the keys valid at a place in kiln.yaml (for "did you
// mean"), and relative paths in a file resolved against that file's folder.

const SECTIONS: Record<string, readonly string[]> = {
  mlflow: Object.keys(MlflowSchema.shape),
  registry: Object.keys(RegistrySchema.shape),
  build: Object.keys(BuildSchema.shape),
  kube: Object.keys(KubeSchema.shape),
  server: Object.keys(ServerSchema.shape),
  models: Object.keys(WatchedModelSchema.shape),
  deploy: Object.keys(DeploySchema.shape),
};

/** Keys allowed at a path: [] is the top level, ['build'], ['models', '0'], ['models', '0', 'deploy']. */
export function knownKeys(path: string[]): readonly string[] {
  const named = path.filter((p) => !/^\d+$/.test(p));
  if (named.length === 0) return ['mlflow', 'registry', 'build', 'kube', 'models', 'server'];
  return SECTIONS[named[named.length - 1]!] ?? [];
}

/** The known key nearest to a typo (edit distance <= 2, case-insensitive), if any. */
export function closest(typo: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(typo.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * `oci:./x`, `oci-archive:./x.tar`, key files and folders written in kiln.yaml, made relative to
 * the file's folder. Applied to the file's own values only (before env and defaults), so
 * KILN_TARGET and the built-in defaults still mean the working directory.
 */
export function relativeTo(raw: unknown, dir: string): unknown {
  if (!isRecord(raw)) return raw;
  const path = (p: unknown): unknown => (typeof p === 'string' && p && !isAbsolute(p) ? resolve(dir, p) : p);
  const loc = (l: unknown): unknown => {
    const m = typeof l === 'string' ? /^(oci-archive:|oci:)(.+)$/.exec(l) : null;
    return m ? `${m[1]}${path(m[2])}` : l;
  };
  const edit = (o: unknown, fields: Record<string, (v: unknown) => unknown>): unknown => {
    if (!isRecord(o)) return o;
    const out = { ...o };
    for (const [k, f] of Object.entries(fields)) if (k in out) out[k] = f(out[k]);
    return out;
  };
  const build = { target: loc, base: loc, signKey: path };
  return {
    ...raw,
    ...('build' in raw ? { build: edit(raw['build'], build) } : {}),
    ...('server' in raw ? { server: edit(raw['server'], { stateDir: path }) } : {}),
    ...(Array.isArray(raw['models'])
      ? {
          models: raw['models'].map((m: unknown) =>
            edit(edit(m, build), { deploy: (d) => edit(d, { gitops: path }) }),
          ),
        }
      : {}),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
