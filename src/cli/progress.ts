import { humanBytes as bytes, type ProgressEvent, type ProgressSink } from '../progress.ts';

// Renders the library's progress events on stderr. Written by hand rather than with a bar
// library (cli-progress, listr2, ...): kiln needs three things together that none gives in a
// few lines: log lines interleaved above live bars without tearing them, a plain line every few
// seconds when stderr is not a terminal (CI logs), and one summary line at the end. This is
// ~100 lines of ANSI (`ESC[nA` up, `ESC[2K` clear line), so no dependency.

export interface ProgressRenderer {
  sink: ProgressSink;
  /** Write a log line without tearing the bars (the CLI logger writes through this). */
  log(line: string): void;
  /** Remove the bars and print the summary line (when anything moved). */
  finish(verb: string): void;
}

interface Row {
  e: ProgressEvent;
  started: number;
  ended: number | undefined;
}

const BAR = 24;

export function progressRenderer(
  write: (s: string) => void,
  opts: { tty: boolean; columns?: number; everyMs?: number; now?: () => number },
): ProgressRenderer {
  const now = opts.now ?? Date.now;
  const rows = new Map<string, Row>();
  let drawn = 0; // lines of bars currently on screen (TTY)
  let lastDraw = 0;
  let lastPlain = now();
  const every = opts.everyMs ?? 5000;
  const begun = now();

  const line = (r: Row): string => {
    const { e } = r;
    const secs = Math.max(0.001, ((r.ended ?? now()) - r.started) / 1000);
    const rate = e.done / secs;
    const pct = e.total ? Math.min(1, e.done / e.total) : undefined;
    const eta = e.total && rate > 0 && r.ended === undefined ? (e.total - e.done) / rate : undefined;
    const amount = e.total !== undefined ? `${bytes(e.done)} / ${bytes(e.total)}` : bytes(e.done);
    const bar = opts.tty && pct !== undefined ? `${'█'.repeat(Math.round(pct * BAR)).padEnd(BAR, '░')} ` : '';
    const state = r.ended !== undefined ? 'done' : eta !== undefined ? `ETA ${duration(eta)}` : '';
    const text = `${e.stage.padEnd(8)} ${bar}${pct !== undefined ? `${Math.floor(pct * 100)}% ` : ''}${amount}  ${bytes(rate)}/s  ${state}  ${e.label}`;
    return opts.columns ? text.slice(0, opts.columns - 1) : text;
  };

  const clear = (): void => {
    if (drawn > 0) write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    const live = [...rows.values()];
    clear();
    for (const r of live) write(`${line(r)}\n`);
    drawn = live.length;
    lastDraw = now();
  };

  return {
    sink(e) {
      let r = rows.get(e.stage);
      if (!r || e.phase === 'start') {
        r = { e, started: now(), ended: undefined };
        rows.set(e.stage, r);
      }
      r.e = e;
      if (e.phase === 'end') r.ended = now();
      if (opts.tty) {
        if (e.phase !== 'progress' || now() - lastDraw >= 100) draw();
      } else if (now() - lastPlain >= every) {
        lastPlain = now();
        for (const row of rows.values()) if (row.ended === undefined) write(`${line(row)}\n`);
      }
    },
    log(text) {
      if (!opts.tty || drawn === 0) {
        write(text);
        return;
      }
      clear();
      write(text);
      draw();
    },
    finish(verb) {
      if (opts.tty) clear();
      const moved = [...rows.values()];
      if (moved.length === 0) return;
      const total = moved.reduce((n, r) => n + (r.e.stage === 'upload' ? 0 : r.e.done), 0);
      const secs = Math.max(0.001, (now() - begun) / 1000);
      const parts = moved.map((r) => `${r.e.stage} ${bytes(r.e.done)}`);
      write(`${verb} ${bytes(total)} in ${duration(secs)} (${bytes(total / secs)}/s; ${parts.join(', ')})\n`);
    },
  };
}

function duration(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  return m < 60 ? `${m}m${String(whole % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}
