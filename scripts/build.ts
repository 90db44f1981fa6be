// `npm run build`: the CLI users run, dist/cli/main.js, bundled by esbuild (pinned devDependency).
// Why a bundle: a `kiln` process spent most of its start-up resolving and reading ~900 module
// files (@kubernetes/client-node and its dependencies alone were ~0.5 s of a 0.68 s rollback);
// one file per code path loads in a fraction of that. Commands still load their implementation
// only when they run: each dynamic import() becomes its own chunk (code splitting), and Node's
// on-disk compile cache (enabled first thing in main.ts) covers the chunks too.
// In the bundle, `await import('pkg')` of a CommonJS package yields only `default`: import such a
// package statically from a small module of ours and import that module dynamically (see
// src/config/yaml-file.ts, src/kserve/k8s-api.ts); test/integration/cli-package.test.ts runs the
// bundle. Files read at run time next to a module (import.meta.url) are not bundled: import JSON
// with `with { type: 'json' }` instead (as src/scan/packs.ts does),
// or copy them into dist/ (the dashboard's files, below).
// The bundle is self-contained, so every library is a devDependency: `npm install -g` of the packed
// tarball installs nothing else (the tests run the TypeScript sources against node_modules).
import { cp, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
// `--out DIR` writes the build elsewhere (scripts/image stages kiln's image outside the clone).
const out = process.argv[process.argv.indexOf('--out') + 1];
const dist = process.argv.includes('--out') && out ? resolve(out) : join(root, 'dist');
const outdir = join(dist, 'cli');
await rm(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  define: { KILN_BUILD_VERSION: JSON.stringify(pkg.version) },
  // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has no
  // require, so give the bundle one.
  banner: {
    js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
  },
});
// The dashboard's static files are read at run time (src/server/dashboard/assets.ts looks for them
// at dist/server/ui, relative to the chunk that contains it), so they are copied, not bundled.
await cp(join(root, 'src', 'server', 'ui'), join(dist, 'server', 'ui'), { recursive: true });
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stderr.write(
  `dist/cli: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1e6).toFixed(1)} MB\n`,
);
