#!/usr/bin/env node
// The executable: the only place that touches process.exitCode. Everything else returns values.
import { getEventListeners } from 'node:events';
import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';

// Commands that stream model bytes keep V8's young generation at its initial size. A bake
// allocates a fresh 64 KiB Buffer per socket read; with the young generation allowed to grow, their
// JS wrappers died late, up to ~90 MiB of dead buffers waited for a collection and malloc kept
// faulting in fresh pages. Not growing it, a 1 GiB bake (compression none) peaked at 111-118 MiB
// instead of ~185 and used 2.7 CPU-s instead of 3.7-3.9 (zstd: 140 vs 171 MiB, 5.3 vs 6.5 CPU-s;
// gzip unchanged). Only for those commands: loading the CLI with a small young generation costs
// ~20 ms more start-up (rollback's first connection 165 ms instead of ~143), and `kiln serve`'s
// webhook p99 at 2,000/s rose from 5-7 ms to 6-17 ms with the extra collections, so serve (whose
// promotions do bake in-process) keeps V8's default. The flag is read each time V8 would grow the
// space, so setting it here works (--max-semi-space-size would not).
// The same commands let the old generation grow to 3x what a mark-compact left live. kiln's live
// heap is ~17 MiB; after the first mark-compact (one V8 starts from a task, ~9 s into a long bake)
// V8 set the next limit ~9 MiB above it, less than the young generation may hold, so every
// mark-compact started the next one: a 4 GiB zstd bake ran 480-580 of them (`--trace-gc`),
// 32-40 CPU-s and 35-43 s instead of 19 CPU-s and 28 s with this setting (7-10 mark-compacts,
// the same peak RSS). Read whenever V8 computes a limit, so setting it here works.
const STREAMING = new Set(['bake', 'promote', 'export', 'import', 'scan']);
if (STREAMING.has(commandName(process.argv.slice(2)) ?? '')) {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=200');
}

/** The command word: the first argument that is neither an option nor the value of -c/--config. */
function commandName(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-c' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

// Cache compiled bytecode on disk (Node >= 22.1): @kubernetes/client-node alone takes ~0.8 s to
// compile on every start, ~0.5 s from the cache. Enabled before the rest of kiln is imported,
// which is why the program is loaded dynamically below.
enableCompileCache?.();
const { runCli } = await import('./program.ts');

// `kiln ... | head` closes the pipe early: that ends kiln's output, it is not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

// Ctrl-C / SIGTERM: a command that is cleaning up (it listens on the signal) gets to finish
// removing temporary files and upload sessions; a second signal, or nobody listening, exits now.
// 128 + signal number, as shells report it: 130 for SIGINT, 143 for SIGTERM.
const interrupt = new AbortController();
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // A command that handles the signal itself (kiln serve drains running promotions, bounded by
    // --drain-timeout) decides when to exit; a second signal, once it has stopped listening, exits here.
    if (process.listenerCount(sig) > 1) return;
    const listening = getEventListeners(interrupt.signal, 'abort').length > 0;
    if (interrupt.signal.aborted || !listening) {
      if (!interrupt.signal.aborted) process.stderr.write('\nkiln: interrupted\n');
      process.exit(SIGNAL_EXIT[sig]);
    }
    interrupt.abort(sig);
    // Cleanup is bounded: exit even if a server never answers the upload cancellation.
    setTimeout(() => process.exit(SIGNAL_EXIT[sig]), 10_000).unref();
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  signal: interrupt.signal,
  ...(process.stderr.isTTY ? { stderrTty: { columns: process.stderr.columns } } : {}),
});
process.exitCode = code;
