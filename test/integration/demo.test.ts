// The README's first command, as a newcomer runs it: `./scripts/demo --help` explains itself
// (and bakes nothing), and the demo runs again and again with the same result: the model baked
// onto the scikit-learn runtime, pulled and run by containerd, answering a prediction.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, run, tempDir } from '../rig/proc.ts';

let work: { path: string; remove: () => Promise<void> };

before(async () => {
  work = await tempDir('demo');
});

after(async () => {
  await work?.remove();
});

test('./scripts/demo --help prints usage and creates nothing', async () => {
  const res = await run(join(REPO_ROOT, 'scripts', 'demo'), ['--help'], { cwd: work.path });
  assert.match(res.stdout, /^usage: \.\/scripts\/demo/);
  assert.match(res.stdout, /--out DIR/);
  assert.equal(existsSync(join(work.path, '--help')), false);
  assert.equal(existsSync(join(REPO_ROOT, '--help')), false);
});

test('the demo serves a prediction, and runs again with the same digest', async () => {
  const out = join(work.path, 'state');
  // scripts/demo = scripts/setup (done by the test run already) + this script.
  const demo = (...args: string[]) =>
    run(process.execPath, [join(REPO_ROOT, 'scripts', 'demo.ts'), '--out', out, ...args], { cwd: REPO_ROOT });
  const first = await demo();
  assert.match(first.stdout.trim(), /^oci:.*\/state\/image@sha256:[0-9a-f]{64}$/);
  assert.match(first.stderr, /-> 200 \{"predictions":\[0,1,2\]\}/);
  assert.match(first.stderr, /answers exactly what the model answers in Python/);
  const second = await demo('--no-serve');
  assert.equal(second.stdout.trim(), first.stdout.trim(), 'same image, same digest');
  assert.match(second.stderr, /already holds models:\/risk-classifier\/1 .*nothing to do/);
});
