// The Debian mirror this machine's apt already uses (deb822 `.sources` or one-line `.list`), so the
// image's debootstrap goes where the machine is allowed to go (a snapshot or proxy in CI).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const FALLBACK = 'http://deb.debian.org/debian';

export async function debianMirror(suite = 'bookworm', aptDir = '/etc/apt'): Promise<string> {
  const files = [join(aptDir, 'sources.list')];
  const dir = join(aptDir, 'sources.list.d');
  for (const f of (await readdir(dir).catch(() => [])).sort()) {
    if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join(dir, f));
  }
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const found = file.endsWith('.sources') ? fromDeb822(text, suite) : fromOneLine(text, suite);
    if (found) return found.replace(/\/+$/, '');
  }
  return FALLBACK;
}

/** deb822 stanzas: `Types: deb`, `URIs: ...`, `Suites: bookworm ...` (not the -security archive). */
function fromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field('Types').includes('deb') || !field('Suites').includes(suite)) continue;
    if (/^enabled:\s*no/im.test(stanza)) continue;
    const uri = field('URIs')[0];
    if (uri) return uri;
  }
  return undefined;
}

/** `deb [options] URI SUITE COMPONENT...` */
function fromOneLine(text: string, suite: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2] === suite) return m[1];
  }
  return undefined;
}
