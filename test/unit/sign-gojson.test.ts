// Go's encoding/json output, which cosign's payloads and manifests are made of.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GoStruct, goJson } from '../../src/sign/gojson.ts';

test('maps sort keys by UTF-8 bytes like Go (not by UTF-16 code units like a JS sort)', () => {
  // U+FF5E is EF BD 9E in UTF-8 and sorts before U+1F600 (F0 9F ...); in UTF-16 it is the reverse.
  assert.equal(goJson({ '\u{1F600}': 1, '\uFF5E': 2, b: 3, a: 4 }), '{"a":4,"b":3,"\uFF5E":2,"\u{1F600}":1}');
});

test('strings escape <, >, &, U+2028 and U+2029 as Go does; lone surrogates become U+FFFD', () => {
  assert.equal(goJson('<a&b>\u2028\u2029'), '"\\u003ca\\u0026b\\u003e\\u2028\\u2029"');
  assert.equal(goJson('x\uD800y'), '"x\uFFFDy"');
});

test('structs keep field order and omit undefined (omitempty); maps drop undefined; nil is null', () => {
  assert.equal(
    goJson(new GoStruct({ z: 1, a: undefined, m: { y: undefined, x: null } })),
    '{"z":1,"m":{"x":null}}',
  );
  assert.equal(goJson(null), 'null');
  assert.equal(goJson([1, 'two', true]), '[1,"two",true]');
});
