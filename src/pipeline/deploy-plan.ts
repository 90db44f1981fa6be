import { access, constants } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { KilnError } from '../errors.ts';
import { checkGitopsDir, type IsvcRef, type Kube, parseIsvcRef } from '../kserve/index.ts';
import { openTarget as openKube } from '../kserve/target.ts';

// Where a promotion deploys, decided and CHECKED before the first byte moves: a cluster that
// cannot be reached, a GitOps folder outside a git work tree or an unwritable YAML folder fails
// the promotion before anything is downloaded, pushed, signed or recorded in MLflow.

export type DeployPlan =
  | { kind: 'cluster'; ref: IsvcRef; kube: Kube; canary: number | undefined }
  | { kind: 'gitops'; ref: IsvcRef; dir: string; canary: number | undefined }
  /** InferenceService YAML written to a folder; `pullable` is false for an oci: or archive image. */
  | { kind: 'yaml'; ref: IsvcRef; dir: string; canary: number | undefined; pullable: boolean };

export interface DeployChoice {
  /** `ns/name` from --deploy or kiln.yaml, when given. */
  inferenceService: string | undefined;
  gitops: string | undefined;
  canary: number | undefined;
  /** --manifests DIR given: write YAML there instead of applying (also with --deploy). */
  manifests: string | undefined;
  /** Where YAML goes when nothing else is configured. */
  defaultManifests: string;
  kube: { context?: string | undefined; namespace?: string | undefined };
}

export async function planDeploy(
  c: DeployChoice,
  model: string,
  imageInRegistry: boolean,
  env: NodeJS.ProcessEnv,
): Promise<DeployPlan> {
  const isvc = c.inferenceService ?? `default/${k8sName(model)}`;
  if (c.gitops && c.manifests) throw usage('--gitops and --manifests both say where the YAML goes; give one');
  if (c.gitops) {
    if (!imageInRegistry) throw needsRegistry('a GitOps repository');
    await checkGitopsDir(c.gitops, env);
    return { kind: 'gitops', ref: parseIsvcRef(isvc, [c.kube.namespace]), dir: c.gitops, canary: c.canary };
  }
  if (c.manifests || !c.inferenceService) {
    const dir = c.manifests ?? c.defaultManifests;
    await checkWritable(dir);
    return { kind: 'yaml', ref: parseIsvcRef(isvc, []), dir, canary: c.canary, pullable: imageInRegistry };
  }
  if (!imageInRegistry) throw needsRegistry('a cluster');
  const { kube, ref } = await openKube({ isvc, config: c.kube, env, timeoutMs: 15_000 });
  await kube.get(ref); // reachable, and kiln may read it (404 is fine: it will be created)
  return { kind: 'cluster', ref, kube, canary: c.canary };
}

/** The folder, or its nearest existing parent, must be writable. */
async function checkWritable(dir: string): Promise<void> {
  let probe = resolve(dir);
  for (;;) {
    const ok = await access(probe, constants.F_OK).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (dirname(probe) === probe) break;
    probe = dirname(probe);
  }
  await access(probe, constants.W_OK).catch((e: unknown) => {
    throw new KilnError(
      'PERMISSION_DENIED',
      `cannot write the InferenceService YAML into ${resolve(dir)} (${probe} is not writable)`,
      {
        kind: 'usage',
        hint: 'pass --manifests with a folder you can write to',
        cause: e,
      },
    );
  });
}

function needsRegistry(where: string): KilnError {
  return new KilnError(
    'DEPLOY_NEEDS_REGISTRY',
    `cannot deploy to ${where}: the image goes to an oci: layout or archive, which a cluster cannot pull`,
    {
      kind: 'usage',
      hint: 'promote --to a registry (host/repo), or pass --manifests DIR to only write the YAML',
    },
  );
}

function usage(message: string): KilnError {
  return new KilnError('USAGE', message, { kind: 'usage', hint: 'see kiln promote --help' });
}

/**
 * An MLflow model name as a Kubernetes object name (RFC 1123 label: lowercase alphanumerics and
 * '-', at most 63): MLflow names often hold '_', '.' or spaces, which an InferenceService cannot.
 */
export function k8sName(modelName: string): string {
  const name = modelName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return name || 'model';
}
