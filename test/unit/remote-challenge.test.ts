import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChallenges, pickChallenge } from '../../src/oci/remote/challenge.ts';

test('a Basic challenge gives its realm', () => {
  assert.deepEqual(parseChallenges('Basic realm="kiln-test"'), [
    { scheme: 'basic', params: { realm: 'kiln-test' } },
  ]);
});

test('a Bearer challenge gives realm, service and a scope whose quoted value holds commas', () => {
  const [c] = parseChallenges(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"',
  );
  assert.deepEqual(c, {
    scheme: 'bearer',
    params: {
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/busybox:pull,push',
    },
  });
});

test('scheme and parameter names are case-insensitive; spaces around = and , are allowed', () => {
  const [c] = parseChallenges('BEARER Realm = "http://r/t" , Service=reg');
  assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'http://r/t', service: 'reg' } });
});

test('escaped quotes inside a quoted value are unescaped', () => {
  const [c] = parseChallenges('Basic realm="say \\"hi\\", please"');
  assert.equal(c?.params['realm'], 'say "hi", please');
});

test('an unquoted realm URL is read whole', () => {
  const [c] = parseChallenges('Bearer realm=https://auth.example.com/token,service=example');
  assert.deepEqual(c?.params, { realm: 'https://auth.example.com/token', service: 'example' });
});

test('several challenges in one header are all returned, and Bearer is preferred over Basic', () => {
  const all = parseChallenges(
    'Basic realm="a", Negotiate abc==, Bearer realm="https://t/",scope="repository:x:pull"',
  );
  assert.deepEqual(
    all.map((c) => c.scheme),
    ['basic', 'negotiate', 'bearer'],
  );
  assert.equal(pickChallenge(all)?.scheme, 'bearer');
  assert.equal(pickChallenge(parseChallenges('Negotiate, Basic realm="x"'))?.scheme, 'basic');
  assert.equal(pickChallenge(parseChallenges('Negotiate abc')), undefined);
});

test('an absent or empty header has no challenge', () => {
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});
