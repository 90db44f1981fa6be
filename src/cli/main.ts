#!/usr/bin/env node
// The executable: the only place that touches process.exitCode. Everything else returns values.
import { enableCompileCache } from 'node:module';

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

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
