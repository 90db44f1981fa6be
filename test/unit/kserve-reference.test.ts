import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { digestOf, parsePinnedImage } from '../../src/kserve/reference.ts';

const D = `sha256:${'ab'.repeat(32)}`;

test('a digest-pinned reference parses into repository and digest, registry port kept', () => {
  assert.deepEqual(parsePinnedImage(`127.0.0.1:5000/ml/risk@${D}`), {
    repository: '127.0.0.1:5000/ml/risk',
    digest: D,
  });
  assert.deepEqual(parsePinnedImage(`registry.example.com/ml/risk-classifier@${D}`), {
    repository: 'registry.example.com/ml/risk-classifier',
    digest: D,
  });
});

test('a tag next to the digest is dropped: the digest is what gets deployed', () => {
  assert.equal(parsePinnedImage(`localhost:5000/ml/risk:v7@${D}`).repository, 'localhost:5000/ml/risk');
});

test('a tag-only reference is refused as a usage error naming the image', () => {
  assert.throws(
    () => parsePinnedImage('registry.example.com/ml/risk:v7'),
    (e) => isKilnError(e, 'IMAGE_NOT_PINNED') && e.kind === 'usage' && e.message.includes('ml/risk:v7'),
  );
});

test('malformed digests and repositories are refused', () => {
  assert.throws(
    () => parsePinnedImage('r.example/m@sha256:abc'),
    (e) => isKilnError(e, 'IMAGE_DIGEST_INVALID'),
  );
  assert.throws(
    () => parsePinnedImage(`r.example/m@sha512:${'a'.repeat(128)}`),
    (e) => isKilnError(e, 'IMAGE_DIGEST_INVALID'),
  );
  assert.throws(
    () => parsePinnedImage(`R.example/Model@${D}`),
    (e) => isKilnError(e, 'IMAGE_REFERENCE_INVALID'),
  );
  assert.throws(
    () => parsePinnedImage(`@${D}`),
    (e) => isKilnError(e, 'IMAGE_REFERENCE_INVALID'),
  );
});

test('digestOf accepts a bare digest or a pinned reference', () => {
  assert.equal(digestOf(D), D);
  assert.equal(digestOf(`r.example/m@${D}`), D);
});
