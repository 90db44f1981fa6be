// A real browser for the dashboard tests: Debian's chromium (scripts/setup apt), driven headless
// by playwright-core (no downloaded browser builds). Fails at once, naming the fix, when missing.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { REPO_ROOT } from './proc.ts';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const SCREENSHOTS = join(REPO_ROOT, 'out', 'screenshots');

export async function startBrowser(): Promise<Browser> {
  const executablePath = process.env['KILN_CHROMIUM'] ?? CANDIDATES.find((p) => existsSync(p));
  if (!executablePath) {
    throw new Error(
      'chromium is not installed: run scripts/setup apt (Debian package chromium) or set KILN_CHROMIUM',
    );
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    // Tests run as root in CI containers, where chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
