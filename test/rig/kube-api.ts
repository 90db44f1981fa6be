// Plain HTTPS calls to the test API server with the rig's client certificate: how tests read
// objects, write as another field manager, and stand in for KServe's controller (status only).
import { request } from 'node:https';
import type { KubeRig } from './kube.ts';

export const ISVC_PATH = '/apis/serving.kserve.io/v1beta1';

export interface KubeTls {
  ca: string;
  cert: string;
  key: string;
}

export interface KubeResponse {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test plumbing over arbitrary API objects
  json: any;
}

/** One HTTPS request to the API server with the client certificate (tests read and write through it). */
export function kubeRequest(
  server: string,
  tls: KubeTls,
  method: string,
  path: string,
  body?: string,
  contentType = 'application/json',
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      {
        method,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        headers: body ? { 'content-type': contentType } : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export const isvcPath = (namespace: string, name: string): string =>
  `${ISVC_PATH}/namespaces/${namespace}/inferenceservices/${name}`;

/** Server-side apply as another field manager (a person's kubectl apply --server-side, a platform team's CI). */
export async function applyAs(
  rig: KubeRig,
  manager: string,
  object: { metadata: { namespace: string; name: string; [k: string]: unknown }; [k: string]: unknown },
): Promise<KubeResponse> {
  const { namespace, name } = object.metadata;
  const res = await kubeRequest(
    rig.server,
    rig.tls,
    'PATCH',
    `${isvcPath(namespace, name)}?fieldManager=${manager}&force=true`,
    JSON.stringify(object),
    'application/apply-patch+yaml',
  );
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`apply as ${manager} failed: ${res.status} ${res.text}`);
  return res;
}

export async function getIsvc(rig: KubeRig, namespace: string, name: string): Promise<KubeResponse['json']> {
  const res = await kubeRequest(rig.server, rig.tls, 'GET', isvcPath(namespace, name));
  if (res.status !== 200) throw new Error(`GET ${namespace}/${name}: ${res.status} ${res.text}`);
  return res.json;
}

/**
 * Stand in for KServe's controller, and only for this: write `status` the way it does
 * (read the object, set .status, PUT the /status subresource with the resourceVersion read).
 */
export async function writeIsvcStatus(
  rig: KubeRig,
  namespace: string,
  name: string,
  status: object,
): Promise<void> {
  const current = await getIsvc(rig, namespace, name);
  const res = await kubeRequest(
    rig.server,
    rig.tls,
    'PUT',
    `${isvcPath(namespace, name)}/status`,
    JSON.stringify({ ...current, status }),
  );
  if (res.status !== 200) throw new Error(`status write failed: ${res.status} ${res.text}`);
}
