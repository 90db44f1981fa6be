// The Kubernetes API calls kiln makes: GET one InferenceService and server-side apply one.
// Built on @kubernetes/client-node 2.x, whose generated patch call defaults to JSON patch: the
// apply content type must be set by middleware (FIELD-NOTES "A real Kubernetes API for tests").
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describeCause, KilnError } from '../errors.ts';
import { type EventRecorder, eventRecorder } from './events.ts';
import { contextNamespace, type KubeConfigOptions, loadKubeConfig } from './kubeconfig.ts';
import { GROUP, type InferenceService, type IsvcRef, PLURAL, refString, VERSION } from './types.ts';

export const FIELD_MANAGER = 'kiln';
const APPLY_PATCH = 'application/apply-patch+yaml';

/** What kserve/ needs from a cluster; tests and the pipeline get one from `openKube`. */
export interface Kube {
  /** The API server URL (named in every error). */
  readonly server: string;
  /** The namespace of the kubeconfig context, if it sets one. */
  readonly contextNamespace: string | undefined;
  get(ref: IsvcRef): Promise<InferenceService | undefined>;
  /**
   * Server-side apply as field manager `kiln` (or `fieldManager`: the analysis publishes its
   * status annotation as `kiln-analysis`, so kiln's own apply never drops it), forced; one
   * request, so never half-applied.
   */
  apply(ref: IsvcRef, body: InferenceService, fieldManager?: string): Promise<InferenceService>;
  /**
   * A Kubernetes Event on the InferenceService (events.ts); never throws. Optional: a Kube that
   * cannot record Events (a test double) leaves it out.
   */
  recordEvent?: EventRecorder;
}

export interface OpenKubeOptions extends KubeConfigOptions {
  /** Per-request deadline: a black-holed API server must not hang a rollback. */
  timeoutMs?: number;
}

export async function openKube(opts: OpenKubeOptions = {}): Promise<Kube> {
  return kubeFromConfig(await loadKubeConfig(opts), opts.timeoutMs ?? 30_000);
}

export async function kubeFromConfig(kc: KubeConfig, timeoutMs = 30_000): Promise<Kube> {
  const { CustomObjectsApi, setHeaderOptions } = await import('./k8s-api.ts');
  const api = kc.makeApiClient(CustomObjectsApi);
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  // ObjectParamAPI middleware is "observable"-shaped: pre() returns something with toPromise().
  const deadline = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      return { toPromise: () => Promise.resolve(ctx) };
    },
    post: (res: unknown) => ({ toPromise: () => Promise.resolve(res) }),
  };
  // biome-ignore lint/suspicious/noExplicitAny: the stub Observable type is not exported
  const options = (contentType?: string): any => {
    const base = { middleware: [deadline], middlewareMergeStrategy: 'append' as const };
    // biome-ignore lint/suspicious/noExplicitAny: see above
    return contentType ? setHeaderOptions('Content-Type', contentType, base as any) : base;
  };
  return {
    server,
    contextNamespace: contextNamespace(kc),
    recordEvent: eventRecorder(kc, timeoutMs),
    async get(ref) {
      try {
        return (await api.getNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace: ref.namespace, plural: PLURAL, name: ref.name },
          options(),
        )) as InferenceService;
      } catch (e) {
        if (isNotFound(e, ref)) return undefined;
        throw kubeError(e, 'read', ref, server);
      }
    },
    async apply(ref, body, fieldManager = FIELD_MANAGER) {
      try {
        return (await api.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: ref.namespace,
            plural: PLURAL,
            name: ref.name,
            body,
            fieldManager,
            force: true,
            // Unknown fields fail the request instead of being pruned silently.
            fieldValidation: 'Strict',
          },
          options(APPLY_PATCH),
        )) as InferenceService;
      } catch (e) {
        throw kubeError(e, 'apply', ref, server);
      }
    },
  };
}

interface ApiFailure {
  code: number;
  body: unknown;
}

function apiFailure(e: unknown): ApiFailure | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number') {
    return e as ApiFailure;
  }
  return undefined;
}

/** The API server's Status object (or undefined when the body is not one, e.g. "404 page not found"). */
function statusBody(
  f: ApiFailure,
): { message?: string; reason?: string; details?: { name?: string } } | undefined {
  let b = f.body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return undefined;
    }
  }
  return typeof b === 'object' && b !== null && (b as { kind?: string }).kind === 'Status'
    ? (b as object)
    : undefined;
}

/** A 404 for the object itself, not for the resource type (KServe not installed answers 404 too). */
function isNotFound(e: unknown, ref: IsvcRef): boolean {
  const f = apiFailure(e);
  return f?.code === 404 && statusBody(f)?.details?.name === ref.name;
}

export function kubeError(e: unknown, op: 'read' | 'apply', ref: IsvcRef, server: string): KilnError {
  const f = apiFailure(e);
  const what = `${op} InferenceService ${refString(ref)} on ${server}`;
  if (!f) {
    return new KilnError('KUBE_UNREACHABLE', `cannot ${what}: ${describeCause(e)}`, {
      hint: 'check the API server is up and reachable (kubectl --context ... get --raw /healthz), and KUBECONFIG/--context',
      cause: e,
      details: { server },
    });
  }
  const status = statusBody(f);
  const message = status?.message ?? (typeof f.body === 'string' ? f.body.trim() : JSON.stringify(f.body));
  const details = { server, status: f.code, reason: status?.reason, message };
  if (f.code === 409) {
    return new KilnError('KUBE_CONFLICT', `cannot ${what}: ${message}`, { cause: e, details });
  }
  if (f.code === 401 || f.code === 403) {
    return new KilnError('KUBE_FORBIDDEN', `cannot ${what}: ${message}`, {
      hint: 'your credentials need get and patch on inferenceservices.serving.kserve.io in this namespace',
      cause: e,
      details,
    });
  }
  if (f.code === 404 && !status?.details?.name) {
    return new KilnError(
      'KSERVE_NOT_INSTALLED',
      `cannot ${what}: the server does not serve ${GROUP}/${VERSION} ${PLURAL}`,
      {
        hint: 'install KServe (its InferenceService CRD) in this cluster, or pick the right --context',
        cause: e,
        details,
      },
    );
  }
  if (f.code === 422 || f.code === 400) {
    return new KilnError(
      'KUBE_INVALID',
      `the API server rejected InferenceService ${refString(ref)}: ${message}`,
      {
        hint: "the object does not match KServe's schema; fix the field named above (or report a kiln bug if kiln wrote it)",
        cause: e,
        details,
      },
    );
  }
  return new KilnError('KUBE_FAILED', `cannot ${what}: HTTP ${f.code}: ${message}`, { cause: e, details });
}
