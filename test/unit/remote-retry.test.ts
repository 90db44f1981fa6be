import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRegistryErrors } from '../../src/oci/remote/errors.ts';
import {
  backoffDelay,
  DEFAULT_RETRY,
  isRetryableStatus,
  parseRetryAfter,
} from '../../src/oci/remote/retry.ts';

test('Retry-After in seconds becomes milliseconds', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(' 0 '), 0);
});

test('Retry-After as an HTTP date is the time left until then (never negative)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
});

test('a missing or garbled Retry-After is ignored', () => {
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter('-5'), undefined);
});

test('backoff doubles per retry, is jittered within [ceiling/2, ceiling], and is bounded', () => {
  const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(
    backoffDelay(p, 1, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(p, 1, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(p, 3, () => 1),
    400,
  );
  assert.equal(
    backoffDelay(p, 10, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(p, 10, () => 0),
    500,
  );
});

test('429 is always retried; 5xx only when the request is idempotent; 4xx never', () => {
  assert.equal(isRetryableStatus(429, false), true);
  assert.equal(isRetryableStatus(503, true), true);
  assert.equal(isRetryableStatus(503, false), false);
  assert.equal(isRetryableStatus(404, true), false);
  assert.equal(isRetryableStatus(501, true), false);
});

test("the registry's error list is parsed; other bodies give none", () => {
  const body = Buffer.from(
    '{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:abc"}]}',
  );
  assert.deepEqual(parseRegistryErrors(body), [
    { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: 'sha256:abc' },
  ]);
  assert.deepEqual(parseRegistryErrors(Buffer.from('<html>bad gateway</html>')), []);
  assert.deepEqual(parseRegistryErrors(Buffer.from('{"errors":"no"}')), []);
});
