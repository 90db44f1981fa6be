import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { type DeployRequest, planDeploy } from './plan.ts';
import { renderInferenceService } from './render.ts';
import type { InferenceService, IsvcRef } from './types.ts';

// The embedded default when no cluster (and no GitOps repo) is configured: the InferenceService
// kiln would apply, written to `DIR/<namespace>/<name>.yaml` for `kubectl apply -f` later. An
// existing file is read as the "live" object, so its digest history carries over (rollback works
// from the file too).

export async function writeManifestFile(
  dir: string,
  ref: IsvcRef,
  req: DeployRequest,
  now = new Date(),
): Promise<{ path: string; changed: boolean }> {
  const path = join(resolve(dir), ref.namespace, `${ref.name}.yaml`);
  const before = await readFile(path, 'utf8').catch(() => undefined);
  const live = before === undefined ? undefined : (parse(before) as InferenceService);
  const state = planDeploy(ref, live, req, now, { generations: false });
  const text = stringify(renderInferenceService(ref, state, live));
  if (text === before) return { path, changed: false };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
  return { path, changed: true };
}
