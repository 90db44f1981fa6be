// deploy/: the kustomize base (+ components) and the Helm chart for `kiln serve`, rendered by the
// real kustomize and helm (built from the Go module proxy), applied to a real kube-apiserver +
// kube-controller-manager, and the service account's rights asked of the API server's RBAC
// authorizer with SubjectAccessReviews.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.ts';
import { type ClusterRig, startCluster } from '../rig/cluster.ts';
import { REPO_ROOT, run, sleep, TOOLS_DIR, toolPath } from '../rig/proc.ts';
import { requireTool } from '../rig/start-all.ts';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects
type Obj = any;

const DEPLOY = join(REPO_ROOT, 'deploy');
const SM_CRD = join(TOOLS_DIR, 'prometheus-operator', 'monitoring.coreos.com_servicemonitors.yaml');
let rig: ClusterRig;

const parse = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJSON())
    .filter(Boolean);
const kustomize = async (dir: string) => parse((await run(toolPath('kustomize'), ['build', dir])).stdout);
const helm = async (...set: string[]) =>
  parse(
    (
      await run(toolPath('helm'), [
        'template',
        'kiln',
        join(DEPLOY, 'helm', 'kiln'),
        '--namespace',
        'kiln',
        ...set,
      ])
    ).stdout,
  );
const key = (o: Obj) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objs: Obj[]) => Object.fromEntries(objs.map((o) => [key(o), o]));

before(async () => {
  requireTool(toolPath('helm'), 'helm', 'kube');
  requireTool(toolPath('kustomize'), 'kustomize', 'kube');
  requireTool(SM_CRD, 'the ServiceMonitor CRD', 'kube');
  rig = await startCluster();
  for (const name of ['kiln', 'models', 'kiln-builds', 'other']) {
    await rig.api('POST', '/api/v1/namespaces', { metadata: { name } });
  }
  const [crd] = parse(await readFile(SM_CRD, 'utf8'));
  await rig.api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
});
after(async () => {
  await rig?.stop();
});

describe('helm and kustomize render the same objects', () => {
  test('defaults: the base equals the chart with default values', async () => {
    const [k, h] = await Promise.all([kustomize(join(DEPLOY, 'kustomize', 'base')), helm()]);
    assert.deepEqual(Object.keys(byKey(h)).sort(), Object.keys(byKey(k)).sort());
    assert.deepEqual(byKey(h), byKey(k));
    // The shipped kiln.yaml is one kiln serve accepts.
    const kilnYaml = parse(byKey(k)['ConfigMap kiln/kiln-config'].data['kiln.yaml'])[0];
    const config = ConfigSchema.safeParse(kilnYaml);
    assert.ok(config.success, JSON.stringify(config.error?.issues));
    assert.ok(config.data.models.length > 0, 'kiln serve refuses to start with no models');
    assert.equal(config.data.server.stateDir, '/var/lib/kiln', 'state on the PVC');
  });

  test('job executor and ServiceMonitor: the example overlay equals the chart with both enabled', async () => {
    const [k, h] = await Promise.all([
      kustomize(join(DEPLOY, 'kustomize', 'examples', 'job-executor')),
      helm('--set', 'executor=job', '--set', 'serviceMonitor.enabled=true'),
    ]);
    assert.deepEqual(byKey(h), byKey(k));
    assert.ok(byKey(k)['ServiceMonitor kiln/kiln']);
    assert.ok(byKey(k)['Role kiln-builds/kiln-jobs']);
  });
});

/** Server-side apply of one object, at its REST path. */
async function apply(o: Obj): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const plural = `${o.kind.toLowerCase()}${o.kind.endsWith('s') ? 'es' : 's'}`.replace(/ys$/, 'ies');
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  await rig.api(
    'PATCH',
    `${base}/namespaces/${o.metadata.namespace}/${plural}/${o.metadata.name}?fieldManager=kiln-test&force=true`,
    o,
    [200, 201],
    'application/apply-patch+yaml',
  );
}

describe('applied to a real API server', () => {
  before(async () => {
    for (const o of await kustomize(join(DEPLOY, 'kustomize', 'examples', 'job-executor'))) await apply(o);
  });

  test("every object is accepted and the Deployment's pod is created as written (non-root, read-only root)", async () => {
    let pods: Obj[] = [];
    for (let i = 0; i < 150 && pods.length === 0; i++) {
      pods = (await rig.api('GET', '/api/v1/namespaces/kiln/pods?labelSelector=app.kubernetes.io/name=kiln'))
        .json.items;
      if (pods.length === 0) await sleep(100);
    }
    assert.equal(pods.length, 1, 'one replica');
    const pod = pods[0];
    assert.equal(pod.spec.serviceAccountName, 'kiln');
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    const c = pod.spec.containers[0];
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(
      pod.spec.volumes.filter((v: Obj) => v.secret).map((v: Obj) => v.secret.secretName),
      ['kiln-signing-key', 'kiln-registry'],
    );
  });

  const kilnSa = {
    user: 'system:serviceaccount:kiln:kiln',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kiln', 'system:authenticated'],
  };
  async function can(attrs: Record<string, string>): Promise<boolean> {
    const res = await rig.api('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { ...kilnSa, resourceAttributes: attrs },
    });
    return res.json.status.allowed === true;
  }
  const isvc = (verb: string, namespace: string) => ({
    verb,
    namespace,
    group: 'serving.kserve.io',
    resource: 'inferenceservices',
  });
  const jobs = (verb: string, namespace: string, subresource = '') => ({
    verb,
    namespace,
    group: 'batch',
    resource: 'jobs',
    subresource,
  });

  const events = (verb: string, namespace: string) => ({ verb, namespace, resource: 'events' });

  test('the service account may do what kiln serve does', async () => {
    for (const a of [
      events('create', 'models'),
      events('get', 'models'),
      events('patch', 'models'),
      isvc('get', 'models'),
      isvc('patch', 'models'),
      isvc('create', 'models'),
      jobs('create', 'kiln-builds'),
      jobs('get', 'kiln-builds'),
      jobs('get', 'kiln-builds', 'status'),
      jobs('delete', 'kiln-builds'),
    ]) {
      assert.equal(await can(a), true, `allowed: ${JSON.stringify(a)}`);
    }
  });

  test('and nothing else: no Secrets anywhere, no other namespaces, nothing cluster-wide', async () => {
    for (const a of [
      { verb: 'get', namespace: 'other', resource: 'secrets' },
      { verb: 'get', namespace: 'kiln', resource: 'secrets' },
      { verb: 'list', namespace: '', resource: 'secrets' },
      isvc('get', 'other'),
      isvc('patch', 'other'),
      isvc('delete', 'models'),
      isvc('list', ''),
      events('create', 'other'),
      events('delete', 'models'),
      events('list', ''),
      jobs('create', 'models'),
      jobs('update', 'kiln-builds'),
      { verb: 'create', namespace: 'kiln', resource: 'pods' },
      { verb: 'get', namespace: '', resource: 'nodes' },
      { verb: 'create', namespace: '', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      { verb: 'patch', namespace: 'models', group: 'rbac.authorization.k8s.io', resource: 'roles' },
    ]) {
      assert.equal(await can(a), false, `denied: ${JSON.stringify(a)}`);
    }
  });
});
