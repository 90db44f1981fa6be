import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jobName, renderJob } from '../../src/server/job-manifest.ts';
import { jobState } from '../../src/server/job-state.ts';

// The `--executor job` Job, rendered. The test API server (apiextensions-apiserver) serves no
// batch/v1, so what can be checked without a cluster is checked here; serve-job.test.ts checks
// the executor's answer against a real API server without Jobs.

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('promotion Job manifest', () => {
  test('runs kiln promote for the exact version, in the configured namespace, image and account', () => {
    const job = renderJob('Risk_Classifier', '12', {
      namespace: 'ml-builds',
      image: 'registry.example.com/kiln:1.0',
      serviceAccount: 'kiln-promoter',
    });
    assert.equal(job.apiVersion, 'batch/v1');
    assert.equal(job.kind, 'Job');
    assert.equal(job.metadata.namespace, 'ml-builds');
    assert.equal(job.metadata.annotations['kiln.dev/model'], 'Risk_Classifier');
    const pod = job.spec.template.spec;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'kiln-promoter');
    assert.deepEqual(pod.containers, [
      {
        name: 'promote',
        image: 'registry.example.com/kiln:1.0',
        command: ['kiln'],
        args: ['promote', 'models:/Risk_Classifier/12', '--json'],
      },
    ]);
    assert.equal(job.spec.backoffLimit, 2);
    assert.ok(job.spec.ttlSecondsAfterFinished > 0);
  });

  test('secrets and config reach the pod by reference only: names, mounts and env pointing at them', () => {
    const job = renderJob('risk', '3', {
      namespace: 'ml-builds',
      image: 'i',
      envFromSecrets: ['kiln-mlflow', 'kiln-cosign-password'],
      configMap: 'kiln-config',
      registrySecret: 'kiln-registry',
      signingKeySecret: 'kiln-signing-key',
    });
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    assert.deepEqual(c?.envFrom, [
      { secretRef: { name: 'kiln-mlflow' } },
      { secretRef: { name: 'kiln-cosign-password' } },
    ]);
    assert.deepEqual(c?.env, [
      { name: 'KILN_CONFIG', value: '/etc/kiln/config/kiln.yaml' },
      { name: 'DOCKER_CONFIG', value: '/etc/kiln/docker' },
      { name: 'KILN_SIGN_KEY', value: '/etc/kiln/signing/cosign.key' },
    ]);
    assert.ok(c?.volumeMounts?.every((m) => m.readOnly));
    assert.deepEqual(pod.volumes, [
      { name: 'kiln-config', configMap: { name: 'kiln-config' } },
      {
        name: 'registry-auth',
        secret: { secretName: 'kiln-registry', items: [{ key: '.dockerconfigjson', path: 'config.json' }] },
      },
      { name: 'signing-key', secret: { secretName: 'kiln-signing-key' } },
    ]);
  });

  test('no serviceAccountName unless configured', () => {
    const job = renderJob('m', '1', { namespace: 'n', image: 'i' });
    assert.equal('serviceAccountName' in job.spec.template.spec, false);
  });

  test('the name is a DNS label, stable for (model, version), distinct across both', () => {
    const long = `a-very-long-model-name-${'x'.repeat(80)}`;
    for (const [m, v] of [
      ['risk', '1'],
      ['Risk Classifier/EU', '1234567890'],
      [long, '7'],
      ['___', '3'],
    ] as const) {
      const n = jobName(m, v);
      assert.ok(n.length <= 63, n);
      assert.match(n, DNS_LABEL);
      assert.equal(n, jobName(m, v));
    }
    assert.notEqual(jobName('risk', '1'), jobName('risk', '2'));
    // same slug, different names: the hash keeps them apart
    assert.notEqual(jobName('Risk', '1'), jobName('risk', '1'));
    for (const v of Object.values(renderJob(long, '7', { namespace: 'n', image: 'i' }).metadata.labels)) {
      assert.ok(v.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v), v);
    }
  });
});

describe('Job outcome from its status', () => {
  test('Complete condition or a succeeded pod is success', () => {
    assert.deepEqual(jobState({ status: { conditions: [{ type: 'Complete', status: 'True' }] } }), {
      phase: 'succeeded',
    });
    assert.deepEqual(jobState({ status: { succeeded: 1 } }), { phase: 'succeeded' });
  });

  test('Failed condition is failure, with its reason', () => {
    const s = jobState({
      status: {
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      },
    });
    assert.deepEqual(s, {
      phase: 'failed',
      message: 'BackoffLimitExceeded: Job has reached the specified backoff limit',
    });
  });

  test('no outcome yet is running (a failed pod under the backoff limit is retried)', () => {
    assert.deepEqual(jobState({ spec: { backoffLimit: 2 }, status: { failed: 1 } }), { phase: 'running' });
    assert.deepEqual(jobState({}), { phase: 'running' });
    assert.equal(jobState({ spec: { backoffLimit: 2 }, status: { failed: 3 } }).phase, 'failed');
  });
});
