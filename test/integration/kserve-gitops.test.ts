// kiln deploy --gitops DIR: the InferenceService YAML written into a real git work tree at
// DIR/<namespace>/<name>.yaml and committed; an existing file is updated in place, keeping
// what people wrote (fields, order, comments).
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { kilnInProcess } from '../rig/cli.ts';
import { run, tempDir } from '../rig/proc.ts';

let repo: { path: string; remove: () => Promise<void> };
const env: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'kiln test',
  GIT_AUTHOR_EMAIL: 'kiln@example.invalid',
  GIT_COMMITTER_NAME: 'kiln test',
  GIT_COMMITTER_EMAIL: 'kiln@example.invalid',
  KUBECONFIG: '/nonexistent/kubeconfig', // --gitops never touches a cluster
};

before(async () => {
  repo = await tempDir('gitops');
  await run('git', ['init', '--quiet', '-b', 'main', repo.path], { env });
  await run('git', ['-C', repo.path, 'commit', '--quiet', '--allow-empty', '-m', 'init'], { env });
});
after(async () => {
  await repo?.remove();
});

const image = (c: string) => `registry.example.com/ml/risk-classifier@sha256:${c.repeat(64)}`;

const kiln = (...argv: string[]) => kilnInProcess(argv, { env, cwd: repo.path });

const git = async (...args: string[]) => (await run('git', ['-C', repo.path, ...args], { env })).stdout;

test('writes DIR/<namespace>/<name>.yaml and commits it with model, version and digest in the message', async () => {
  const res = await kiln(
    'deploy',
    'prod/risk-classifier',
    '--image',
    image('1'),
    '--gitops',
    join(repo.path, 'clusters'),
    '--model-name',
    'risk-classifier',
    '--model-version',
    '7',
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, `${image('1')}\n`);
  const file = join(repo.path, 'clusters', 'prod', 'risk-classifier.yaml');
  const isvc = parse(await readFile(file, 'utf8'));
  assert.equal(isvc.kind, 'InferenceService');
  assert.equal(isvc.metadata.namespace, 'prod');
  assert.equal(isvc.spec.predictor.containers[0].image, image('1'));
  assert.equal(isvc.metadata.annotations['kiln.dev/model-version'], '7');
  assert.equal(isvc.metadata.resourceVersion, undefined);
  const message = await git('log', '-1', '--format=%B');
  assert.match(message, /^kiln deploy prod\/risk-classifier: risk-classifier version 7/);
  assert.ok(message.includes(`sha256:${'1'.repeat(64)}`), message);
  assert.equal(await git('status', '--porcelain'), '', 'the work tree is clean: the file was committed');
});

test('updates a hand-edited file in place: comments, other fields and order survive; only kiln fields change', async () => {
  const dir = join(repo.path, 'apps');
  const file = join(dir, 'prod', 'fraud.yaml');
  await mkdir(join(dir, 'prod'), { recursive: true });
  const handWritten = `# Owned by the fraud team: talk to #fraud-ml before changing resources.
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: fraud
  namespace: prod
  labels:
    team: fraud # cost centre 42
spec:
  predictor:
    minReplicas: 2 # keep two warm: traffic spikes at 09:00
    containers:
      - name: kserve-container
        image: ${image('0')}
        resources:
          limits:
            memory: 2Gi # measured peak 1.6Gi
`;
  await writeFile(file, handWritten);
  await git('add', '.');
  await git('commit', '--quiet', '-m', 'fraud: hand-written');
  const staged = join(repo.path, 'unrelated.txt');
  await writeFile(staged, 'staged by a person, not for kiln\n');
  await git('add', 'unrelated.txt');

  const res = await kiln(
    '--json',
    'deploy',
    'prod/fraud',
    '--image',
    image('2'),
    '--canary',
    '10',
    '--gitops',
    dir,
    '--model-name',
    'fraud',
    '--model-version',
    '12',
  );
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.gitops.changed, true);
  const text = await readFile(file, 'utf8');
  for (const comment of [
    '# Owned by the fraud team',
    '# cost centre 42',
    '# keep two warm',
    '# measured peak 1.6Gi',
  ]) {
    assert.ok(text.includes(comment), `comment kept: ${comment}\n${text}`);
  }
  const isvc = parse(text);
  assert.equal(isvc.spec.predictor.containers[0].image, image('2'));
  assert.deepEqual(isvc.spec.predictor.containers[0].resources, { limits: { memory: '2Gi' } });
  assert.equal(isvc.spec.predictor.minReplicas, 2);
  assert.equal(isvc.spec.predictor.canaryTrafficPercent, 10);
  const order = [
    '# Owned by the fraud team',
    'apiVersion:',
    'kind:',
    'metadata:',
    'labels:',
    'spec:',
    'minReplicas:',
    'containers:',
  ];
  const positions = order.map((s) => text.indexOf(s));
  assert.deepEqual(
    [...positions].sort((a, b) => a - b),
    positions,
    'hand-written order kept',
  );
  // the previous digest is recorded, so a rollback can find it
  assert.match(isvc.metadata.annotations['kiln.dev/history'], new RegExp(`sha256:${'0'.repeat(64)}`));
  assert.equal(out.gitops.commit, (await git('rev-parse', 'HEAD')).trim());
  assert.match(await git('log', '-1', '--format=%s'), /fraud version 12 as a 10% canary/);
  assert.deepEqual((await git('show', '--name-only', '--format=', 'HEAD')).trim().split('\n'), [
    'apps/prod/fraud.yaml',
  ]);
  assert.match(
    await git('status', '--porcelain'),
    /^A {2}unrelated\.txt/m,
    "the person's staged file stays staged, uncommitted",
  );

  const again = await kiln(
    '--json',
    'deploy',
    'prod/fraud',
    '--image',
    image('2'),
    '--canary',
    '10',
    '--gitops',
    dir,
    '--model-name',
    'fraud',
    '--model-version',
    '12',
  );
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).gitops.changed, false, 'same deploy again: no new commit');
  assert.equal((await git('rev-parse', 'HEAD')).trim(), out.gitops.commit);
});

test('a directory outside any git work tree is refused with a usage error', async () => {
  const outside = await tempDir('not-git');
  try {
    const res = await kiln('deploy', 'prod/x', '--image', image('3'), '--gitops', outside.path);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /is not inside a git work tree/);
  } finally {
    await outside.remove();
  }
});
