// The server's routes as one fetch-shaped handler: /healthz, /readyz, /metrics and (unless
// disabled) POST /webhooks/mlflow. Health is "the process answers"; readiness is "the state store
// is open and MLflow answered the last reconcile" (before the first one ends: not ready).

import type { Registry } from './metrics.ts';
import { CONTENT_TYPE } from './metrics.ts';
import { WEBHOOK_PATH } from './webhook-handler.ts';

export interface Readiness {
  storeOpen: () => boolean;
  /** undefined until the first reconcile has finished. */
  mlflowReachable: () => boolean | undefined;
}

export interface RouteDeps {
  /** undefined: webhooks are disabled (`kiln serve --no-webhook`). */
  webhook: ((req: Request) => Promise<Response>) | undefined;
  readiness: Readiness;
  metrics: Registry;
  /** The dashboard's pages and /api (dashboard/); answers undefined for paths it does not own. */
  dashboard?: ((req: Request) => Promise<Response | undefined>) | undefined;
}

export function routes(deps: RouteDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    const { pathname } = new URL(req.url);
    const method = req.method;
    if (pathname === WEBHOOK_PATH) {
      if (!deps.webhook) {
        return Response.json(
          {
            error: 'disabled',
            message: 'webhooks are disabled (kiln serve --no-webhook); the reconciler polls',
          },
          { status: 404 },
        );
      }
      return method === 'POST' ? deps.webhook(req) : notAllowed('POST');
    }
    if (pathname === '/healthz' || pathname === '/readyz' || pathname === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed('GET, HEAD');
      if (pathname === '/healthz') return Response.json({ status: 'ok' });
      if (pathname === '/metrics') {
        return new Response(deps.metrics.render(), { headers: { 'content-type': CONTENT_TYPE } });
      }
      return ready(deps.readiness);
    }
    const page = await deps.dashboard?.(req);
    if (page) return page;
    return Response.json({ error: 'not_found', message: `no route ${pathname}` }, { status: 404 });
  };
}

function ready(r: Readiness): Response {
  const store = r.storeOpen();
  const mlflow = r.mlflowReachable();
  const ok = store && mlflow === true;
  return Response.json(
    {
      status: ok ? 'ready' : 'not ready',
      store: store ? 'open' : 'closed',
      mlflow: mlflow === undefined ? 'not checked yet' : mlflow ? 'reachable' : 'unreachable',
    },
    { status: ok ? 200 : 503 },
  );
}

function notAllowed(allow: string): Response {
  return Response.json({ error: 'method_not_allowed' }, { status: 405, headers: { allow } });
}
