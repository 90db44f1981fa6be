// DESIGN.md: imports point downward (oci knows nothing of MLflow or KServe; pipeline wires; cli and
// server are thin shells), and library code never prints or exits. This test fails the build
// when either rule is broken.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../rig/proc.ts';

const SRC = join(REPO_ROOT, 'src');

/** Which top-level areas each area may import (besides itself and the shared root files). */
const MAY_IMPORT: Record<string, string[]> = {
  oci: [],
  mlflow: [],
  kserve: [],
  sign: ['oci'],
  config: [],
  scan: [],
  analysis: ['kserve', 'mlflow', 'config'],
  pipeline: ['oci', 'mlflow', 'kserve', 'sign', 'config', 'scan'],
  airgap: ['pipeline', 'oci', 'kserve', 'sign'],
  server: ['pipeline', 'analysis', 'mlflow', 'kserve', 'oci', 'sign', 'config', 'scan'],
  cli: ['airgap', 'pipeline', 'analysis', 'server', 'mlflow', 'kserve', 'oci', 'sign', 'config', 'scan'],
};

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const areaOf = (file: string): string => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');

test('imports point downward between areas', async () => {
  const wrong: string[] = [];
  for (const file of await sources(SRC)) {
    const from = areaOf(file);
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const target = resolve(dirname(file), m[1]!);
      const to = areaOf(target);
      if (to === from || !(to in MAY_IMPORT)) continue; // same area, or a shared root file (errors.ts, log.ts...)
      if (!(MAY_IMPORT[from] ?? []).includes(to))
        wrong.push(`${relative(REPO_ROOT, file)} imports ${to}/ (${m[1]})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('library code never prints or exits: only cli/ touches stdout, stderr or process.exit', async () => {
  const wrong: string[] = [];
  for (const file of await sources(SRC)) {
    if (areaOf(file) === 'cli') continue;
    const text = await readFile(file, 'utf8');
    if (
      /console\.(log|error|warn|info)|process\.exit\(|process\.stdout\.write|process\.stderr\.write/.test(
        text,
      )
    ) {
      wrong.push(relative(REPO_ROOT, file));
    }
  }
  assert.deepEqual(wrong, []);
});
