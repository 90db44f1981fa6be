import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { formatModelRef, parseModelUri } from '../../src/mlflow/uri.ts';

describe('parseModelUri', () => {
  it('reads models:/NAME@ALIAS', () => {
    assert.deepEqual(parseModelUri('models:/risk-classifier@champion'), {
      name: 'risk-classifier',
      alias: 'champion',
    });
  });

  it('reads models:/NAME/VERSION', () => {
    assert.deepEqual(parseModelUri('models:/risk-classifier/7'), { name: 'risk-classifier', version: '7' });
  });

  it('takes the alias after the last "@", as MLflow does (names may contain "@")', () => {
    assert.deepEqual(parseModelUri('models:/team@ml.iris@prod_2'), { name: 'team@ml.iris', alias: 'prod_2' });
    assert.deepEqual(parseModelUri('models:/team@ml/3'), { name: 'team@ml', version: '3' });
  });

  it('keeps names with spaces, dots and unicode as written', () => {
    assert.deepEqual(parseModelUri('models:/Iris v2.ü@champion'), { name: 'Iris v2.ü', alias: 'champion' });
  });

  it('formats a reference back to the same text', () => {
    for (const uri of ['models:/iris@champion', 'models:/iris/12']) {
      assert.equal(formatModelRef(parseModelUri(uri)), uri);
    }
  });

  const bad: Array<[string, RegExp]> = [
    ['iris@champion', /does not start with models:\//],
    ['runs:/abc/model', /does not start with models:\//],
    ['models://profile/iris/1', /remote registry/],
    ['models:/iris', /no version or alias/],
    ['models:/m-0123456789abcdef', /no version or alias/],
    ['models:/iris/Production', /not a version number/],
    ['models:/iris/latest', /not a version number/],
    ['models:/iris/', /empty version/],
    ['models:/@champion', /empty model name/],
    ['models:/iris@', /invalid alias/],
    ['models:/iris@bad alias', /invalid alias/],
    ['models:/a/b/1', /model names cannot contain "\/"/],
    ['models:/a:b@x', /containing ":"/],
    ['', /does not start/],
  ];
  for (const [uri, message] of bad) {
    it(`refuses ${JSON.stringify(uri)} as bad usage, showing the right form`, () => {
      assert.throws(
        () => parseModelUri(uri),
        (e: unknown) => {
          assert.ok(isKilnError(e, 'MODEL_URI_INVALID'));
          assert.equal(e.kind, 'usage');
          assert.match(e.message, message);
          assert.match(e.hint ?? '', /models:\//);
          return true;
        },
      );
    });
  }
});
