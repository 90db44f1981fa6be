import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { authorizationHeader, mlflowOptionsFromEnv } from '../../src/mlflow/options.ts';
import { backoffDelay, DEFAULT_RETRY, isRetryableStatus, parseRetryAfter } from '../../src/mlflow/retry.ts';

describe('mlflowOptionsFromEnv', () => {
  it("reads MLflow's own variables", () => {
    const o = mlflowOptionsFromEnv({
      MLFLOW_TRACKING_URI: 'https://mlflow.example.com/prefix',
      MLFLOW_TRACKING_TOKEN: 't0k',
      MLFLOW_TRACKING_INSECURE_TLS: 'TRUE',
      MLFLOW_TRACKING_SERVER_CERT_PATH: '/etc/ca.pem',
    });
    assert.equal(o.trackingUri, 'https://mlflow.example.com/prefix');
    assert.equal(o.token, 't0k');
    assert.equal(o.insecureTls, true);
    assert.equal(o.caCertPath, '/etc/ca.pem');
  });

  it('lets MLFLOW_TRACKING_URI override the config file, and uses the file otherwise', () => {
    const file = { trackingUri: 'http://from-file:5000' };
    assert.equal(
      mlflowOptionsFromEnv({ MLFLOW_TRACKING_URI: 'http://env:5000' }, file).trackingUri,
      'http://env:5000',
    );
    assert.equal(mlflowOptionsFromEnv({}, file).trackingUri, 'http://from-file:5000');
  });

  it('says how to configure MLflow when nothing is set', () => {
    assert.throws(
      () => mlflowOptionsFromEnv({}),
      (e: unknown) =>
        isKilnError(e, 'MLFLOW_URI_MISSING') &&
        e.kind === 'usage' &&
        /MLFLOW_TRACKING_URI/.test(e.hint ?? ''),
    );
  });

  it('refuses tracking URIs kiln cannot talk REST to', () => {
    for (const uri of ['databricks', 'sqlite:///mlflow.db', 'file:///tmp/mlruns', 'not a url']) {
      assert.throws(
        () => mlflowOptionsFromEnv({ MLFLOW_TRACKING_URI: uri }),
        (e: unknown) => isKilnError(e, 'MLFLOW_URI_INVALID'),
      );
    }
  });

  it('refuses a boolean it cannot read instead of guessing', () => {
    assert.throws(
      () =>
        mlflowOptionsFromEnv({ MLFLOW_TRACKING_URI: 'http://x', MLFLOW_TRACKING_INSECURE_TLS: 'yes please' }),
      (e: unknown) => isKilnError(e, 'CONFIG_INVALID') && /MLFLOW_TRACKING_INSECURE_TLS/.test(e.message),
    );
  });
});

describe('authorizationHeader', () => {
  it('sends basic auth when a username and password are set, even with a token (as MLflow does)', () => {
    const h = authorizationHeader({ trackingUri: 'http://x', username: 'ann', password: 'pw', token: 't' });
    assert.equal(h, `Basic ${Buffer.from('ann:pw').toString('base64')}`);
  });
  it('sends the token as a bearer otherwise', () => {
    assert.equal(authorizationHeader({ trackingUri: 'http://x', token: 't' }), 'Bearer t');
  });
  it('sends nothing without credentials', () => {
    assert.equal(authorizationHeader({ trackingUri: 'http://x' }), undefined);
  });
});

describe('retry policy', () => {
  it('retries 429 and 5xx but never a 4xx answer', () => {
    for (const s of [429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of [400, 401, 403, 404, 409, 501]) assert.equal(isRetryableStatus(s), false, String(s));
  });
  it('grows the jittered wait exponentially up to the cap, and honours Retry-After within the cap', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseDelayMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(DEFAULT_RETRY, attempt);
        assert.ok(d >= 0 && d <= ceiling, `${d} within [0, ${ceiling}]`);
      }
    }
    assert.equal(backoffDelay(DEFAULT_RETRY, 1, 2000), 2000);
    assert.equal(backoffDelay(DEFAULT_RETRY, 1, 600_000), DEFAULT_RETRY.maxDelayMs);
  });
  it('reads Retry-After as seconds or as a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
});
