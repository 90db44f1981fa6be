// Log lines written in the same event-loop turn go out in ONE write: at thousands of webhooks a
// second, a write syscall per JSON line was ~8% of the endpoint's CPU (bench/webhook). A kill -9
// can lose at most the current turn's lines; `flush()` writes them out before a normal exit.
export interface LineBuffer {
  write: (line: string) => void;
  flush: () => void;
}

export function lineBuffer(out: (s: string) => void): LineBuffer {
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    out(text);
  };
  return {
    write: (line) => {
      lines.push(line);
      if (lines.length === 1) setImmediate(flush);
    },
    flush,
  };
}
