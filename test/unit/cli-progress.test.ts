// What the progress renderer puts on stderr, with a fake clock: bars with bytes, rate and ETA on a
// terminal (redrawn in place, log lines above them), a plain line per interval off a terminal,
// and one summary line at the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressRenderer } from '../../src/cli/progress.ts';

function rig(tty: boolean) {
  let now = 0;
  let out = '';
  const r = progressRenderer(
    (s) => {
      out += s;
    },
    { tty, everyMs: 5000, now: () => now },
  );
  return {
    r,
    tick: (ms: number) => {
      now += ms;
    },
    out: () => out,
  };
}

const MiB = 1 << 20;

test('on a terminal: a bar with percent, bytes, rate and ETA, redrawn in place; logs go above it', () => {
  const { r, tick, out } = rig(true);
  r.sink({ stage: 'download', label: 'model m/1', done: 0, total: 100 * MiB, phase: 'start' });
  tick(2000);
  r.sink({ stage: 'download', label: 'model m/1', done: 20 * MiB, total: 100 * MiB, phase: 'progress' });
  assert.match(
    out(),
    /download +█{5}░{19} 20% 20\.0 MiB \/ 100\.0 MiB {2}10\.0 MiB\/s {2}ETA 8\.0s {2}model m\/1\n$/,
  );
  r.log('a log line\n');
  // cursor up over the bar, clear, the log line, the bar again
  assert.match(out(), /\x1b\[1A\x1b\[Ja log line\ndownload /);
  tick(118_000);
  r.sink({ stage: 'download', label: 'model m/1', done: 100 * MiB, total: 100 * MiB, phase: 'end' });
  r.finish('moved');
  assert.match(out(), /\x1b\[1A\x1b\[Jmoved 100\.0 MiB in 2m00s \(853\.3 KiB\/s; download 100\.0 MiB\)\n$/);
});

test('off a terminal: no escape codes, one plain line per interval, then the summary', () => {
  const { r, tick, out } = rig(false);
  r.sink({ stage: 'download', label: 'model m/1', done: 0, total: 10 * MiB, phase: 'start' });
  for (let i = 1; i <= 10; i++) {
    tick(1000);
    r.sink({
      stage: 'download',
      label: 'model m/1',
      done: i * MiB,
      total: 10 * MiB,
      phase: i === 10 ? 'end' : 'progress',
    });
  }
  r.finish('moved');
  assert.doesNotMatch(out(), /\x1b/);
  const lines = out().trimEnd().split('\n');
  assert.equal(lines.length, 2, out());
  assert.match(lines[0]!, /^download +50% 5\.0 MiB \/ 10\.0 MiB {2}1\.0 MiB\/s {2}ETA 5\.0s/);
  assert.equal(lines[1], 'moved 10.0 MiB in 10s (1.0 MiB/s; download 10.0 MiB)');
});
