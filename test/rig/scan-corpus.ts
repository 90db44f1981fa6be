// The scan corpus, built at test time by test/rig/python/scan_corpus.py in the scan venv
// (scripts/setup scan): benign models that must give zero findings and crafted files (harmless
// payloads) that must be blocked. Nothing is committed: the files come from the real libraries.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, TOOLS_DIR, tempDir } from './proc.ts';

export const SCAN_PYTHON = process.env['KILN_SCAN_PYTHON'] ?? join(TOOLS_DIR, 'venv-scan', 'bin', 'python');

export interface ScanCorpus {
  dir: string;
  benign: string[];
  malicious: string[];
  remove: () => Promise<void>;
}

export async function buildScanCorpus(): Promise<ScanCorpus> {
  if (!existsSync(SCAN_PYTHON)) throw new Error(`scan venv missing (${SCAN_PYTHON}): run scripts/setup scan`);
  const tmp = await tempDir('scan-corpus');
  await promisify(execFile)(SCAN_PYTHON, [join(REPO_ROOT, 'test/rig/python/scan_corpus.py'), tmp.path], {
    timeout: 120_000,
  });
  const list = async (d: string): Promise<string[]> =>
    (await readdir(join(tmp.path, d))).sort().map((n) => join(tmp.path, d, n));
  return {
    dir: tmp.path,
    benign: await list('benign'),
    malicious: await list('malicious'),
    remove: tmp.remove,
  };
}
