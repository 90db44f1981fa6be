// Every InferenceService of a namespace in one request (the dashboard reads hundreds of models:
// one LIST per namespace instead of a GET each). Read-only; errors as kubeError names them.
import type { KubeConfig } from '@kubernetes/client-node';
import { KilnError } from '../errors.ts';
import { kubeError } from './client.ts';
import { GROUP, type InferenceService, PLURAL, VERSION } from './types.ts';

export async function listInferenceServices(
  kc: KubeConfig,
  namespace: string,
  timeoutMs = 10_000,
): Promise<InferenceService[]> {
  const { CustomObjectsApi } = await import('./k8s-api.ts');
  const api = kc.makeApiClient(CustomObjectsApi);
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  let timer: NodeJS.Timeout | undefined;
  // A black-holed API server must not stall the caller: the request is abandoned at the deadline.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new KilnError(
            'KUBE_UNREACHABLE',
            `listing InferenceServices in ${namespace} on ${server} timed out`,
            {
              hint: 'check the API server is up and reachable, and KUBECONFIG/--context',
            },
          ),
        ),
      timeoutMs,
    );
  });
  try {
    const out = (await Promise.race([
      api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
      deadline,
    ])) as { items?: InferenceService[] };
    return out.items ?? [];
  } catch (e) {
    if (e instanceof KilnError) throw e;
    throw kubeError(e, 'read', { namespace, name: '*' }, server);
  } finally {
    clearTimeout(timer);
  }
}
