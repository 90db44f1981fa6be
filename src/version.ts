import { readFileSync } from 'node:fs';

// Read once from package.json so `kiln --version`, provenance and the User-Agent agree.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const KILN_VERSION: string = pkg.version;
export const USER_AGENT = `kiln/${KILN_VERSION} node/${process.versions.node}`;
