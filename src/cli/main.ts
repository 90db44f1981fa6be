#!/usr/bin/env node
// The executable: the only place that touches process.exitCode. Everything else returns values.
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
