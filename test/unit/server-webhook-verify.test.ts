import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEvent } from '../../src/server/webhook-event.ts';
import { signatureHeader, verifyDelivery } from '../../src/server/webhook-verify.ts';

// A vector computed by MLflow itself: mlflow.webhooks.delivery._generate_hmac_signature(
//   's3cret-é', '6f1c2a3e-0000-4000-8000-000000000001', '1748779200', <BODY>) with MLflow 3.x.
const MLFLOW_BODY =
  '{"entity": "model_version_alias", "action": "created", "timestamp": "2025-06-01T12:00:00.123456+00:00", "data": {"name": "iris", "alias": "champion", "version": "7"}}';
const MLFLOW_SIG = 'v1,IUHoTPVYNIXzwcV+stiNlyRdJ3hE5sCnoQWI5EMiWUU=';
const SECRET = 's3cret-é';
const ID = '6f1c2a3e-0000-4000-8000-000000000001';
const TS = 1748779200;

function input(over: { headers?: Record<string, string | undefined>; body?: string; nowMs?: number } = {}) {
  const h: Record<string, string | undefined> = {
    'X-MLflow-Delivery-Id': ID,
    'X-MLflow-Timestamp': String(TS),
    'X-MLflow-Signature': MLFLOW_SIG,
    ...over.headers,
  };
  const headers = new Headers();
  for (const [k, v] of Object.entries(h)) if (v !== undefined) headers.set(k, v);
  return {
    headers,
    body: Buffer.from(over.body ?? MLFLOW_BODY),
    secret: SECRET,
    maxSkewSeconds: 300,
    nowMs: over.nowMs ?? TS * 1000 + 2000,
  };
}

describe('webhook signature verification', () => {
  test("accepts the signature MLflow's own code computes for the delivery", () => {
    assert.deepEqual(verifyDelivery(input()), { ok: true, deliveryId: ID, timestamp: TS });
  });

  test('signatureHeader reproduces MLflow (tests and the bench sign with it)', () => {
    assert.equal(signatureHeader(SECRET, ID, String(TS), Buffer.from(MLFLOW_BODY)), MLFLOW_SIG);
  });

  test('a different secret is a forgery (401)', () => {
    const i = input();
    const r = verifyDelivery({ ...i, secret: 'another-secret' });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.verdict, 'forged');
    assert.equal(!r.ok && r.status, 401);
  });

  test('one changed byte of the body is a forgery', () => {
    const r = verifyDelivery(input({ body: MLFLOW_BODY.replace('"7"', '"8"') }));
    assert.equal(!r.ok && r.verdict, 'forged');
  });

  test('whitespace added to the body is a forgery: the raw bytes are signed, not the JSON value', () => {
    const r = verifyDelivery(input({ body: `${MLFLOW_BODY} ` }));
    assert.equal(!r.ok && r.verdict, 'forged');
  });

  test('a changed delivery id or timestamp header breaks the signature', () => {
    const a = verifyDelivery(input({ headers: { 'X-MLflow-Delivery-Id': `${ID.slice(0, -1)}2` } }));
    const b = verifyDelivery(input({ headers: { 'X-MLflow-Timestamp': String(TS + 1) } }));
    assert.equal(!a.ok && a.verdict, 'forged');
    assert.equal(!b.ok && b.verdict, 'forged');
  });

  test('garbage, truncated or other-version signatures are forgeries, never exceptions', () => {
    for (const sig of [
      'v1,',
      'v1,AAAA',
      'v1,not base64 at all!',
      MLFLOW_SIG.replace('v1,', 'v2,'),
      'x'.repeat(5000),
    ]) {
      const r = verifyDelivery(input({ headers: { 'X-MLflow-Signature': sig } }));
      assert.equal(!r.ok && r.verdict, 'forged', sig);
    }
  });

  test('several space-separated signatures pass when one matches (secret rotation)', () => {
    const other = signatureHeader('old-secret', ID, String(TS), Buffer.from(MLFLOW_BODY));
    const r = verifyDelivery(input({ headers: { 'X-MLflow-Signature': `${other} ${MLFLOW_SIG}` } }));
    assert.equal(r.ok, true);
  });

  test('no signature header is unsigned (401)', () => {
    const r = verifyDelivery(input({ headers: { 'X-MLflow-Signature': undefined } }));
    assert.deepEqual([!r.ok && r.verdict, !r.ok && r.status], ['unsigned', 401]);
  });

  test('missing or malformed delivery id / timestamp headers are malformed (400)', () => {
    for (const headers of [
      { 'X-MLflow-Delivery-Id': undefined },
      { 'X-MLflow-Timestamp': undefined },
      { 'X-MLflow-Timestamp': '2025-06-01T12:00:00Z' },
      { 'X-MLflow-Timestamp': '-5' },
      { 'X-MLflow-Delivery-Id': 'has spaces in it' },
    ]) {
      const r = verifyDelivery(input({ headers }));
      assert.deepEqual([!r.ok && r.verdict, !r.ok && r.status], ['malformed', 400], JSON.stringify(headers));
    }
  });

  test('a timestamp older than maxSkew is stale (400); exactly maxSkew old still passes', () => {
    const stale = verifyDelivery(input({ nowMs: (TS + 301) * 1000 }));
    assert.deepEqual([!stale.ok && stale.verdict, !stale.ok && stale.status], ['stale', 400]);
    assert.match(!stale.ok ? stale.reason : '', /301 s old/);
    assert.equal(verifyDelivery(input({ nowMs: (TS + 300) * 1000 })).ok, true);
  });

  test('a timestamp further in the future than maxSkew is stale too', () => {
    const r = verifyDelivery(input({ nowMs: (TS - 301) * 1000 }));
    assert.equal(!r.ok && r.verdict, 'stale');
    assert.match(!r.ok ? r.reason : '', /in the future/);
  });

  test('a forged delivery with a stale timestamp is answered as forged: age is checked after authenticity', () => {
    const r = verifyDelivery({ ...input({ nowMs: (TS + 10_000) * 1000 }), secret: 'wrong' });
    assert.equal(!r.ok && r.verdict, 'forged');
  });
});

describe('webhook event parsing', () => {
  test("MLflow's alias event gives name, alias, version and the send time in microseconds", () => {
    const e = parseEvent(Buffer.from(MLFLOW_BODY), TS);
    assert.deepEqual(e, {
      kind: 'alias-set',
      name: 'iris',
      alias: 'champion',
      version: '7',
      eventAtUs: Date.parse('2025-06-01T12:00:00Z') * 1000 + 123456,
    });
  });

  test('without a body timestamp the signed header time orders the event', () => {
    const body = JSON.stringify({
      entity: 'model_version_alias',
      action: 'created',
      data: { name: 'iris', alias: 'champion', version: '7' },
    });
    const e = parseEvent(Buffer.from(body), TS);
    assert.equal(e.kind === 'alias-set' && e.eventAtUs, TS * 1_000_000);
  });

  test('other entities and actions are ignored, not errors', () => {
    for (const [entity, action] of [
      ['model_version_alias', 'deleted'],
      ['model_version', 'created'],
      ['registered_model', 'created'],
    ]) {
      const e = parseEvent(Buffer.from(JSON.stringify({ entity, action, data: {} })), TS);
      assert.deepEqual(e, { kind: 'ignored', event: `${entity}.${action}` });
    }
  });

  test('bad JSON and wrong shapes are malformed', () => {
    const cases = [
      '{not json',
      '[1,2]',
      '"text"',
      JSON.stringify({ entity: 'model_version_alias', action: 'created' }),
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: 'a', alias: 'b', version: 7 },
      }),
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: '', alias: 'b', version: '7' },
      }),
      JSON.stringify({
        entity: 'model_version_alias',
        action: 'created',
        data: { name: 'a', alias: 'b', version: '07' },
      }),
      JSON.stringify({ entity: 1, action: 'created' }),
    ];
    for (const body of cases) assert.equal(parseEvent(Buffer.from(body), TS).kind, 'malformed', body);
    assert.equal(parseEvent(Buffer.from([0x7b, 0xff, 0x7d]), TS).kind, 'malformed');
  });
});
