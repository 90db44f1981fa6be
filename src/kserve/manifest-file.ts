import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { KilnError } from '../errors.ts';
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
  const before = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new KilnError('MANIFEST_FILE_UNREADABLE', `cannot read ${path}: ${e.message}`, {
      hint: 'fix its permissions, or move it away to start a fresh file (its rollback history goes with it)',
    });
  });
  const live = before === undefined ? undefined : parseExisting(path, before);
  const state = planDeploy(ref, live, req, now, { generations: false });
  const text = stringify(renderInferenceService(ref, state, live));
  if (text === before) return { path, changed: false };
  await writeFileAtomic(path, text);
  return { path, changed: true };
}

/** Write `text` to `path` through a temporary file and a rename: never a half-written manifest. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

function parseExisting(path: string, text: string): InferenceService {
  try {
    return parse(text) as InferenceService;
  } catch (e) {
    throw new KilnError(
      'MANIFEST_FILE_INVALID',
      `${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`,
      {
        kind: 'usage',
        hint: 'fix the file, or delete it to let kiln write a fresh one',
      },
    );
  }
}
