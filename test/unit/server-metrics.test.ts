import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kilnMetrics } from '../../src/server/kiln-metrics.ts';
import { escapeLabel, Registry } from '../../src/server/metrics.ts';

// Prometheus text format 0.0.4: what a scraper parses. Checked line by line against the spec
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).

describe('metrics exposition', () => {
  test('a counter family: HELP, TYPE, then one sample per label set', () => {
    const r = new Registry();
    const c = r.counter('x_total', 'Things.');
    c.inc({ result: 'ok' });
    c.inc({ result: 'ok' }, 2);
    c.inc({ result: 'bad' });
    assert.equal(
      r.render(),
      '# HELP x_total Things.\n# TYPE x_total counter\nx_total{result="ok"} 3\nx_total{result="bad"} 1\n',
    );
  });

  test('label values escape backslash, double quote and newline', () => {
    assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const r = new Registry();
    r.counter('y_total', 'Y.').inc({ model: 'we"ird\n' });
    assert.match(r.render(), /^y_total\{model="we\\"ird\\n"\} 1$/m);
  });

  test('histogram buckets are cumulative and end with +Inf, _sum and _count', () => {
    const r = new Registry();
    const h = r.histogram('d_seconds', 'D.', [1, 5, 0.5]);
    for (const v of [0.2, 0.7, 3, 100]) h.observe(v);
    const lines = r.render().trim().split('\n');
    assert.deepEqual(lines, [
      '# HELP d_seconds D.',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.5"} 1',
      'd_seconds_bucket{le="1"} 2',
      'd_seconds_bucket{le="5"} 3',
      'd_seconds_bucket{le="+Inf"} 4',
      'd_seconds_sum 103.9',
      'd_seconds_count 4',
    ]);
  });

  test('a gauge is read when scraped', () => {
    let depth = 3;
    const r = new Registry();
    r.gauge('q', 'Q.', () => depth);
    assert.match(r.render(), /^q 3$/m);
    depth = 0;
    assert.match(r.render(), /^q 0$/m);
  });

  test("kiln's families are all present at zero before anything happened", () => {
    const m = kilnMetrics({ queueDepth: () => 0, running: () => 0 });
    const text = m.registry.render();
    for (const line of [
      '# TYPE kiln_promotions_total counter',
      'kiln_promotions_total{result="succeeded"} 0',
      'kiln_promotions_total{result="failed"} 0',
      'kiln_promotions_total{result="superseded"} 0',
      'kiln_promotions_total{result="blocked"} 0',
      '# TYPE kiln_promotion_duration_seconds histogram',
      'kiln_promotion_duration_seconds_count 0',
      'kiln_bytes_pushed_total 0',
      'kiln_webhook_deliveries_total{verdict="accepted"} 0',
      'kiln_webhook_deliveries_total{verdict="forged"} 0',
      'kiln_webhook_deliveries_total{verdict="too_large"} 0',
      'kiln_queue_depth 0',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text}`);
    }
    // every sample line is "name{labels} number" or "name number"
    for (const l of text.trim().split('\n')) {
      if (l.startsWith('#')) continue;
      assert.match(
        l,
        /^[a-z_:][a-z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\d+(\.\d+)?|\+Inf|NaN)$/,
        l,
      );
    }
  });
});
