// Cluster access the way kubectl users already have it: $KUBECONFIG (a path list, merged),
// else ~/.kube/config, else the in-cluster service account. `--context` picks a context; the
// namespace comes from NAMESPACE/NAME, --namespace, kiln.yaml, the context, then "default".
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { describeCause, KilnError } from '../errors.ts';
import type { IsvcRef } from './types.ts';

export interface KubeConfigOptions {
  /** Read KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST from here (the CLI passes its own env). */
  env?: NodeJS.ProcessEnv;
  context?: string | undefined;
}

export async function loadKubeConfig(opts: KubeConfigOptions = {}): Promise<KubeConfig> {
  const env = opts.env ?? process.env;
  const { KubeConfig } = await import('./k8s-api.ts');
  const kc = new KubeConfig();
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  const home = env['HOME'];
  const fallback = home ? join(home, '.kube', 'config') : undefined;
  try {
    if (files.length > 0) {
      const [first, ...rest] = files;
      kc.loadFromFile(first as string);
      for (const f of rest) {
        const more = new KubeConfig();
        more.loadFromFile(f);
        kc.mergeConfig(more);
      }
    } else if (fallback && existsSync(fallback)) {
      kc.loadFromFile(fallback);
    } else if (env['KUBERNETES_SERVICE_HOST']) {
      kc.loadFromCluster();
    } else {
      throw new KilnError('KUBECONFIG_NOT_FOUND', 'no Kubernetes configuration found', {
        kind: 'usage',
        hint: 'set KUBECONFIG, create ~/.kube/config, or run inside a cluster',
      });
    }
  } catch (e) {
    if (e instanceof KilnError) throw e;
    const where = files.length > 0 ? files.join(delimiter) : fallback;
    throw new KilnError('KUBECONFIG_INVALID', `cannot read kubeconfig ${where}: ${describeCause(e)}`, {
      kind: 'usage',
      hint: 'check the file named by KUBECONFIG (or ~/.kube/config) is readable YAML',
      cause: e,
    });
  }
  if (opts.context !== undefined) {
    if (!kc.getContextObject(opts.context)) {
      throw new KilnError('KUBE_CONTEXT_UNKNOWN', `kubeconfig has no context named "${opts.context}"`, {
        kind: 'usage',
        hint: `pick one of: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || '(none)'
        }`,
      });
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KilnError(
      'KUBE_CONTEXT_UNKNOWN',
      `kubeconfig context "${kc.getCurrentContext()}" names no cluster`,
      {
        kind: 'usage',
        hint: 'pass --context, or set current-context in your kubeconfig',
      },
    );
  }
  return kc;
}

/** The namespace the current context sets, if any. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  return kc.getContextObject(kc.getCurrentContext())?.namespace;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parse `NAMESPACE/NAME` or `NAME`. `fallbacks` are tried in order for a bare NAME
 * (--namespace, kiln.yaml, the kubeconfig context); "default" last, as kubectl does.
 */
export function parseIsvcRef(arg: string, fallbacks: (string | undefined)[] = []): IsvcRef {
  const parts = arg.split('/');
  const [a, b] = parts;
  const explicit = parts.length === 2 ? a : undefined;
  const name = parts.length === 2 ? b : a;
  const flagNs = fallbacks[0];
  if (
    parts.length > 2 ||
    !name ||
    !DNS_LABEL.test(name) ||
    (explicit !== undefined && !DNS_LABEL.test(explicit))
  ) {
    throw new KilnError('ISVC_REF_INVALID', `"${arg}" is not NAMESPACE/NAME of an InferenceService`, {
      kind: 'usage',
      hint: 'use e.g. prod/risk-classifier (lowercase letters, digits and -)',
    });
  }
  if (explicit !== undefined && flagNs !== undefined && flagNs !== explicit) {
    throw new KilnError(
      'ISVC_REF_INVALID',
      `"${arg}" names namespace ${explicit} but --namespace says ${flagNs}`,
      {
        kind: 'usage',
        hint: 'give the namespace once: either NAMESPACE/NAME or --namespace',
      },
    );
  }
  const namespace = explicit ?? fallbacks.find((f) => f !== undefined && f !== '') ?? 'default';
  return { namespace, name };
}
