// The dashboard's pure parts: named tokens, the cross-site and token guard, and how serving,
// canary, scan verdicts and decisions are read from what kiln recorded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import { guardAction } from '../../src/server/dashboard/guard.ts';
import { parseTokens } from '../../src/server/dashboard/tokens.ts';
import { decisionsFor, scanOf, slots } from '../../src/server/dashboard/views.ts';
import type { PromotionRow } from '../../src/server/state-types.ts';

const tokens = parseTokens('# people\nalice:aaaaaaaaaaaaaaaa1111\nci-bot:bbbbbbbbbbbbbbbb2222', 'test');

test('a token is known by its name; an unknown or empty one is not', () => {
  assert.equal(tokens.size, 2);
  assert.equal(tokens.who('aaaaaaaaaaaaaaaa1111'), 'alice');
  assert.equal(tokens.who('bbbbbbbbbbbbbbbb2222'), 'ci-bot');
  assert.equal(tokens.who('aaaaaaaaaaaaaaaa111'), undefined);
  assert.equal(tokens.who(''), undefined);
  assert.equal(parseTokens('a:1234567890abcdef,b:fedcba0987654321', 'env').who('fedcba0987654321'), 'b');
});

test('malformed token lists are refused with the entry named, never echoing the token', () => {
  for (const [text, problem] of [
    ['alice', /is not NAME:TOKEN/],
    ['alice:short', /shorter than 16/],
    ['a:1234567890abcdef\na:1234567890abcdeg', /used twice/],
    ['bad name:1234567890abcdef', /is not NAME:TOKEN/],
  ] as const) {
    assert.throws(
      () => parseTokens(text, 'KILN_DASHBOARD_TOKENS'),
      (e: unknown) =>
        isKilnError(e, 'DASHBOARD_TOKENS_INVALID') &&
        problem.test(e.message) &&
        !e.message.includes('1234567890abcdef'),
    );
  }
});

const post = (headers: Record<string, string>) =>
  new Request('http://kiln.invalid/api/models/m/promote', {
    method: 'POST',
    headers: { host: 'kiln:8080', ...headers },
    body: '{}',
  });
const status = (r: ReturnType<typeof guardAction>) => (r.ok ? `ok ${r.who}` : r.response.status);

test('actions: cross-site first, then JSON only, then a configured bearer token', () => {
  const json = { 'content-type': 'application/json' };
  const auth = { authorization: 'Bearer aaaaaaaaaaaaaaaa1111' };
  assert.equal(status(guardAction(post({ ...json, ...auth }), tokens)), 'ok alice');
  assert.equal(
    status(
      guardAction(
        post({ ...json, ...auth, origin: 'http://kiln:8080', 'sec-fetch-site': 'same-origin' }),
        tokens,
      ),
    ),
    'ok alice',
  );
  assert.equal(status(guardAction(post({ ...json, ...auth, origin: 'http://evil:8080' }), tokens)), 403);
  assert.equal(status(guardAction(post({ ...json, ...auth, 'sec-fetch-site': 'same-site' }), tokens)), 403);
  assert.equal(status(guardAction(post({ ...json, ...auth, origin: 'null' }), tokens)), 403);
  assert.equal(status(guardAction(post({ 'content-type': 'text/plain', ...auth }), tokens)), 415);
  assert.equal(
    status(guardAction(post({ 'content-type': 'application/x-www-form-urlencoded', ...auth }), tokens)),
    415,
  );
  assert.equal(status(guardAction(post(json), tokens)), 401);
  assert.equal(
    status(guardAction(post({ ...json, authorization: 'Bearer nope-nope-nope-nope' }), tokens)),
    401,
  );
  assert.equal(status(guardAction(post({ ...json, ...auth }), parseTokens('', 'none'))), 403);
});

const status0 = (canaryPercent: number | undefined) => ({
  namespace: 'prod',
  name: 'm',
  deploymentMode: 'Serverless' as const,
  image: 'r/m@sha256:b',
  model: 'm',
  version: '2',
  canaryPercent,
  generation: 2,
  observedGeneration: 2,
  reconciled: true,
  ready: 'True',
  url: undefined,
  revisions: [],
  history: [
    { image: 'r/m@sha256:b', version: '2', at: '2026-01-02T00:00:00Z' },
    { image: 'r/m@sha256:a', version: '1', at: '2026-01-01T00:00:00Z' },
  ],
});

test('serving and canary come from the spec: P% to the new digest, the rest to the previous one', () => {
  const tags = new Map([
    ['2', { tags: { 'kiln.signed': 'true', 'kiln.scan': 'blocked: GLOBAL os.system' } }],
  ]);
  // biome-ignore lint/suspicious/noExplicitAny: only tags are read
  const s = slots(status0(10), tags as any);
  assert.deepEqual(
    [s.canary?.version, s.canary?.percent, s.canary?.signed, s.canary?.scan?.verdict],
    ['2', 10, true, 'blocked'],
  );
  assert.deepEqual([s.serving?.version, s.serving?.percent, s.serving?.digest], ['1', 90, 'sha256:a']);
  const full = slots(status0(undefined), new Map());
  assert.deepEqual([full.serving?.version, full.serving?.percent, full.canary], ['2', 100, undefined]);
  const first = slots({ ...status0(10), history: [status0(10).history[0]!] }, new Map());
  assert.deepEqual([first.serving?.percent, first.canary], [100, undefined]);
});

test('scan verdicts are the first word of kiln.scan; absent means not scanned', () => {
  assert.deepEqual(scanOf({ 'kiln.scan': 'passed (3 files)' }), {
    verdict: 'passed',
    detail: 'passed (3 files)',
  });
  assert.equal(scanOf({ 'kiln.scan': 'BLOCKED: x' })?.verdict, 'blocked');
  assert.equal(scanOf({}), undefined);
});

test("a version's decisions: its promotions, the actions on its digest, and the gate", () => {
  const row = (id: number, version: string, st: PromotionRow['status'], at: number) =>
    ({
      id,
      version,
      status: st,
      finishedAt: at,
      source: 'webhook',
      deployedTo: 'prod/m',
      error: st === 'failed' ? 'X: y' : undefined,
    }) as PromotionRow;
  const action = (id: number, kind: 'abort' | 'rollback', at: number, extra: object) => ({
    id,
    at,
    who: 'alice',
    action: kind,
    model: 'm',
    version: '2',
    digest: 'sha256:b',
    target: undefined,
    reason: 'slow',
    result: 'done' as const,
    error: undefined,
    promotionId: undefined,
    ...extra,
  });
  const promos = [row(3, '2', 'succeeded', 30), row(2, '2', 'failed', 20), row(1, '1', 'succeeded', 10)];
  const acts = [action(2, 'rollback', 50, { target: 'sha256:a' }), action(1, 'abort', 40, {})];
  const d2 = decisionsFor('2', 'sha256:b', promos, acts, { verdict: 'blocked', detail: 'blocked: x' });
  assert.deepEqual(
    d2.map((d) => `${d.kind}:${d.by}`),
    ['rolled-back:alice', 'aborted:alice', 'deployed:webhook', 'failed:webhook', 'blocked:scan'],
  );
  assert.equal(d2[1]?.reason, 'slow');
  const d1 = decisionsFor('1', 'sha256:a', promos, acts, undefined);
  assert.deepEqual(
    d1.map((d) => d.kind),
    ['rolled-back-to', 'deployed'],
  );
});
