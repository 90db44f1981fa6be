// Resolve "which cluster, which InferenceService" once, from NAMESPACE/NAME, --namespace,
// --context and kiln.yaml's `kube` section (flags override the file, as everywhere in kiln).
import { type Kube, kubeFromConfig } from './client.ts';
import { contextNamespace, loadKubeConfig, parseIsvcRef } from './kubeconfig.ts';
import type { IsvcRef } from './types.ts';

export interface TargetOptions {
  /** NAMESPACE/NAME or NAME. */
  isvc: string;
  namespace?: string | undefined;
  context?: string | undefined;
  /** kiln.yaml `kube:` settings (lower precedence than the flags above). */
  config?: { context?: string | undefined; namespace?: string | undefined };
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export async function openTarget(opts: TargetOptions): Promise<{ kube: Kube; ref: IsvcRef }> {
  // Parse the name first: a malformed NAMESPACE/NAME is a usage error even without a kubeconfig.
  parseIsvcRef(opts.isvc, [opts.namespace]);
  const kc = await loadKubeConfig({ env: opts.env, context: opts.context ?? opts.config?.context });
  const ref = parseIsvcRef(opts.isvc, [opts.namespace, opts.config?.namespace, contextNamespace(kc)]);
  return { kube: await kubeFromConfig(kc, opts.timeoutMs), ref };
}

/** For --gitops, which never talks to a cluster: the namespace must come from the flags or kiln.yaml. */
export function gitopsRef(opts: TargetOptions): IsvcRef {
  return parseIsvcRef(opts.isvc, [opts.namespace, opts.config?.namespace]);
}
