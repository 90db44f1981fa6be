// GitOps output for teams whose CI may not touch the cluster: the same InferenceService kiln
// would apply, written into a git work tree at DIR/<namespace>/<name>.yaml and committed.
// An existing file is edited in place through the `yaml` Document API, so fields, order and
// comments that people wrote survive; only the fields kiln owns change.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Document, isMap, isSeq, parseDocument } from 'yaml';
import { describeCause, KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { ANNOTATION_PREFIX } from './annotations.ts';
import { type DeployRequest, planDeploy } from './plan.ts';
import { digestOf } from './reference.ts';
import { type KilnState, renderInferenceService } from './render.ts';
import { type InferenceService, type IsvcRef, KIND, KSERVE_CONTAINER, refString } from './types.ts';

const run = promisify(execFile);

export interface GitopsOptions {
  /** Environment for git (identity, GIT_* variables); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export interface GitopsResult {
  path: string;
  state: KilnState;
  /** False when the file already said this: nothing written, nothing committed. */
  changed: boolean;
  /** The new commit, when one was made. */
  commit: string | undefined;
  message: string | undefined;
}

/** The predictable place of an InferenceService in the GitOps tree. */
export const gitopsPath = (dir: string, ref: IsvcRef): string =>
  join(resolve(dir), ref.namespace, `${ref.name}.yaml`);

export async function deployToGitops(
  dir: string,
  req: IsvcRef & DeployRequest,
  log: Logger = silentLogger,
  opts: GitopsOptions = {},
): Promise<GitopsResult> {
  const ref = { namespace: req.namespace, name: req.name };
  const env = opts.env ?? process.env;
  const root = await workTree(dir, env);
  const path = gitopsPath(dir, ref);
  const before = existsSync(path) ? await readFile(path, 'utf8') : undefined;
  const doc = before === undefined ? new Document({}) : parseExisting(path, before);
  const live = before === undefined ? undefined : (doc.toJS() as InferenceService);
  const state = planDeploy(ref, live, req, (opts.now ?? (() => new Date()))(), { generations: false });
  mergeInto(doc, renderInferenceService(ref, state, live), state);
  const after = doc.toString();
  if (after === before) {
    log.info(`${path} already deploys ${state.image}; nothing to commit`);
    return { path, state, changed: false, commit: undefined, message: undefined };
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, after);
  const message = commitMessage(ref, state);
  const rel = relative(root, path);
  await git(root, env, ['add', '--', rel]);
  // `commit -- PATH` commits this file only, never whatever else the user had staged.
  await git(root, env, ['commit', '--quiet', '-m', message, '--', rel]);
  const commit = (await git(root, env, ['rev-parse', 'HEAD'])).trim();
  log.info(`committed ${rel} (${commit.slice(0, 12)})`);
  return { path, state, changed: true, commit, message };
}

export function commitMessage(ref: IsvcRef, state: KilnState): string {
  const what = state.model ? `${state.model.name} version ${state.model.version}` : state.image;
  const canary = state.canaryPercent === undefined ? '' : ` as a ${state.canaryPercent}% canary`;
  return `kiln deploy ${refString(ref)}: ${what}${canary}\n\nimage: ${state.image}\ndigest: ${digestOf(state.image)}\n`;
}

function parseExisting(path: string, text: string): Document {
  const doc = parseDocument(text);
  const err = doc.errors[0];
  if (err) {
    throw new KilnError('GITOPS_FILE_INVALID', `${path} is not valid YAML: ${err.message.split('\n')[0]}`, {
      kind: 'usage',
      hint: 'fix the file (or move it away) and run kiln deploy --gitops again',
    });
  }
  const kind = doc.get('kind');
  if (!isMap(doc.contents) || (kind !== undefined && kind !== KIND)) {
    throw new KilnError(
      'GITOPS_FILE_INVALID',
      `${path} does not hold an InferenceService (kind: ${String(kind)})`,
      {
        kind: 'usage',
        hint: 'kiln writes one InferenceService per file at DIR/<namespace>/<name>.yaml',
      },
    );
  }
  return doc;
}

/** Set exactly the fields kiln owns; everything else in the document stays as written. */
function mergeInto(doc: Document, rendered: InferenceService, state: KilnState): void {
  if (doc.get('apiVersion') !== rendered.apiVersion) doc.set('apiVersion', rendered.apiVersion);
  if (doc.get('kind') !== rendered.kind) doc.set('kind', rendered.kind);
  doc.setIn(['metadata', 'name'], rendered.metadata.name);
  doc.setIn(['metadata', 'namespace'], rendered.metadata.namespace);
  const annotations = rendered.metadata.annotations ?? {};
  const existing = doc.getIn(['metadata', 'annotations']);
  if (isMap(existing)) {
    for (const pair of [...existing.items]) {
      const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
      if (key.startsWith(ANNOTATION_PREFIX) && !(key in annotations)) existing.delete(key);
    }
  }
  for (const [k, v] of Object.entries(annotations)) setIfChanged(doc, ['metadata', 'annotations', k], v);
  const p = ['spec', 'predictor'];
  if (state.canaryPercent === undefined) deleteIfPresent(doc, [...p, 'canaryTrafficPercent']);
  else setIfChanged(doc, [...p, 'canaryTrafficPercent'], state.canaryPercent);
  const containers = doc.getIn([...p, 'containers']);
  const index = isSeq(containers)
    ? containers.items.findIndex((c) => isMap(c) && c.get('name') === KSERVE_CONTAINER)
    : -1;
  if (state.mode === 'baked') {
    const kserve = rendered.spec.predictor.containers?.[0];
    if (index >= 0) {
      setIfChanged(doc, [...p, 'containers', index, 'image'], kserve?.image);
      setIfChanged(doc, [...p, 'containers', index, 'args'], kserve?.args);
    } else if (isSeq(containers)) {
      containers.items.unshift(doc.createNode(kserve));
    } else {
      doc.setIn([...p, 'containers'], rendered.spec.predictor.containers);
    }
    if (String(doc.getIn([...p, 'model', 'storageUri']) ?? '').startsWith('oci://')) {
      deleteIfPresent(doc, [...p, 'model', 'storageUri']);
    }
  } else {
    const model = rendered.spec.predictor.model ?? {};
    for (const [k, v] of Object.entries(model)) setIfChanged(doc, [...p, 'model', k], v);
    if (index >= 0 && isSeq(containers)) {
      containers.items.splice(index, 1);
      if (containers.items.length === 0) deleteIfPresent(doc, [...p, 'containers']);
    }
  }
}

function deleteIfPresent(doc: Document, path: (string | number)[]): void {
  if (doc.hasIn(path)) doc.deleteIn(path);
}

/** setIn replaces the node (and its comments); skip it when the value is already right. */
function setIfChanged(doc: Document, path: (string | number)[], value: unknown): void {
  const node = doc.getIn(path, true) as { toJSON?: () => unknown } | undefined;
  const current = node && typeof node.toJSON === 'function' ? node.toJSON() : doc.getIn(path);
  if (JSON.stringify(current) === JSON.stringify(value)) return;
  doc.setIn(path, value);
}

/** Checked before a promotion moves any byte: `dir` must be inside a git work tree. */
export async function checkGitopsDir(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  await workTree(dir, env);
}

/** The work tree holding `dir` (which may not exist yet: kiln creates it, like the file). */
async function workTree(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  let probe = resolve(dir);
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    return (await run('git', ['-C', probe, 'rev-parse', '--show-toplevel'], { env })).stdout.trim();
  } catch (e) {
    throw new KilnError('GITOPS_NOT_A_REPO', `${resolve(dir)} is not inside a git work tree`, {
      kind: 'usage',
      hint: 'point --gitops at a directory of a cloned GitOps repository (git init for a new one)',
      cause: e,
    });
  }
}

async function git(root: string, env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  try {
    return (await run('git', ['-C', root, ...args], { env })).stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new KilnError(
      'GITOPS_GIT_FAILED',
      `git ${args[0]} in ${root} failed: ${stderr || describeCause(e)}`,
      {
        hint: stderr?.includes('tell me who you are')
          ? 'set a git identity (git config user.name / user.email, or GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL)'
          : 'fix the repository state and run kiln deploy --gitops again',
        cause: e,
      },
    );
  }
}
