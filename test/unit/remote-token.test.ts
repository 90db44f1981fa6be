import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeScopes, scopesCover, TokenCache } from '../../src/oci/remote/token.ts';

test('a pull,push scope covers pull; pull does not cover push', () => {
  assert.equal(scopesCover(['repository:ml/x:pull,push'], ['repository:ml/x:pull']), true);
  assert.equal(scopesCover(['repository:ml/x:pull'], ['repository:ml/x:pull,push']), false);
  assert.equal(scopesCover(['repository:ml/x:*'], ['repository:ml/x:pull,push']), true);
});

test('scopes are per repository, and all needed scopes must be covered', () => {
  assert.equal(scopesCover(['repository:ml/x:pull,push'], ['repository:ml/y:pull']), false);
  assert.equal(
    scopesCover(
      ['repository:ml/x:pull,push', 'repository:base:pull'],
      ['repository:ml/x:push', 'repository:base:pull'],
    ),
    true,
  );
  assert.equal(scopesCover([], []), true);
});

test('cached tokens are found by coverage and forgotten when expired or dropped', () => {
  const cache = new TokenCache();
  cache.set('realm|svc', ['repository:ml/x:pull,push'], { token: 't1', expiresAt: 1000 });
  assert.equal(cache.get('realm|svc', ['repository:ml/x:pull'], 500), 't1');
  assert.equal(cache.get('other|svc', ['repository:ml/x:pull'], 500), undefined);
  assert.equal(cache.get('realm|svc', ['repository:ml/x:pull'], 1000), undefined, 'expired');
  cache.set('realm|svc', ['repository:ml/x:pull'], { token: 't2', expiresAt: 5000 });
  cache.drop('t2');
  assert.equal(cache.get('realm|svc', ['repository:ml/x:pull'], 10), undefined);
});

test('scopes for one repository merge into one, actions unioned', () => {
  assert.deepEqual(
    mergeScopes(['repository:ml/x:pull', 'repository:ml/x:push,pull', 'repository:base:pull']),
    ['repository:ml/x:pull,push', 'repository:base:pull'],
  );
  assert.deepEqual(mergeScopes(['repository:127.0.0.1:5000/x:pull']), ['repository:127.0.0.1:5000/x:pull']);
});
