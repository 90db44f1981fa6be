import { readFileSync } from 'node:fs';

// Read once from package.json so `kiln --version`, provenance and the User-Agent agree. The
// bundled CLI (scripts/build.ts) has the version compiled in as KILN_BUILD_VERSION: its modules
// live under dist/cli/, where `../package.json` is not the package's.
declare const KILN_BUILD_VERSION: string | undefined;

export const KILN_VERSION: string =
  typeof KILN_BUILD_VERSION === 'string'
    ? KILN_BUILD_VERSION
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
        .version;
export const USER_AGENT = `kiln/${KILN_VERSION} node/${process.versions.node}`;
