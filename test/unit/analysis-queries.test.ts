import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareAnswers, exampleRows } from '../../src/analysis/agreement.ts';
import { promNumber } from '../../src/analysis/prometheus.ts';
import { quantileQuery, render, successQueries } from '../../src/analysis/queries.ts';

const vars = { namespace: 'ml', name: 'iris', revision: 'iris-predictor-00002', interval: '30s' };

test('templates fill {{namespace}} {{name}} {{revision}} {{interval}} and refuse unknown variables', () => {
  assert.equal(
    render('x{a="{{ namespace }}",b="{{revision}}"}[{{interval}}] {{name}}', vars),
    'x{a="ml",b="iris-predictor-00002"}[30s] iris',
  );
  assert.throws(() => render('{{pod}}', vars), /unknown template variable \{\{pod\}\}/);
});

test('built-in queries use Knative >= 1.19 names, or the legacy ones in ms converted to seconds', () => {
  assert.match(
    render(successQueries('knative').failed, vars),
    /kn_serving_invocation_duration_seconds_count\{k8s_namespace_name="ml",kn_revision_name="iris-predictor-00002",http_response_status_code=~"5.."\}\[30s\]/,
  );
  assert.match(
    render(successQueries('knative-legacy').total, vars),
    /revision_app_request_count\{namespace_name="ml",revision_name="iris-predictor-00002"\}/,
  );
  assert.match(
    quantileQuery('knative-legacy', 0.99),
    /^histogram_quantile\(0\.99, .*revision_app_request_latencies_bucket.*\/ 1000$/,
  );
});

test("input examples in MLflow's formats become rows", () => {
  assert.deepEqual(exampleRows([[1, 2]]), [[1, 2]]);
  assert.deepEqual(exampleRows({ columns: ['a'], data: [[1]] }), [[1]]);
  assert.deepEqual(exampleRows({ inputs: [[3]] }), [[3]]);
  assert.deepEqual(exampleRows({ dataframe_split: { data: [[4]] } }), [[4]]);
  assert.equal(exampleRows('x'), undefined);
});

test('agreement: labels must match, numbers within tolerance, shapes must match', () => {
  const tol = { absTolerance: 1e-6, relTolerance: 1e-6, minAgreement: 1 };
  assert.equal(compareAnswers({ predictions: [0, 1, 2] }, { predictions: [0, 1, 2] }, tol).agreement, 1);
  assert.equal(compareAnswers({ predictions: [0, 2, 2] }, { predictions: [0, 1, 2] }, tol).agreement, 2 / 3);
  assert.equal(compareAnswers({ predictions: [0.1 + 1e-9] }, { predictions: [0.1] }, tol).agreement, 1);
  assert.match(
    compareAnswers({ predictions: [[0.1, 0.9]] }, { predictions: [1] }, tol).schemaError ?? '',
    /list\[2\].*number/,
  );
  assert.match(compareAnswers({ error: 'x' }, { predictions: [1] }, tol).schemaError ?? '', /canary/);
});

test("Prometheus' +Inf and -Inf (bucket bounds, values) are read as infinities, not NaN", () => {
  assert.equal(promNumber('+Inf'), Number.POSITIVE_INFINITY);
  assert.equal(promNumber('-Inf'), Number.NEGATIVE_INFINITY);
  assert.equal(promNumber('0.025'), 0.025);
  assert.ok(Number.isNaN(promNumber('NaN')));
});
