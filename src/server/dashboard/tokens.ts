// Named bearer tokens for the dashboard's actions. They come from the environment
// (KILN_DASHBOARD_TOKENS) or a file mounted from a Kubernetes Secret (KILN_DASHBOARD_TOKENS_FILE),
// never from kiln.yaml. The name is what the history records as "who".
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KilnError } from '../../errors.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Long enough that guessing is hopeless (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_LENGTH = 16;

export interface TokenSet {
  readonly size: number;
  /** The token's name, or undefined; compared in constant time against every token. */
  who(token: string): string | undefined;
}

/** `NAME:TOKEN` entries, separated by commas or new lines; `#` starts a comment line. */
export function parseTokens(text: string, origin: string): TokenSet {
  const entries: Array<{ name: string; hash: Buffer }> = [];
  for (const [i, raw] of text.split(/[\n,]/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    const token = line.slice(colon + 1).trim();
    const where = `${origin} entry ${i + 1}`;
    if (colon < 0 || !NAME.test(name)) {
      throw new KilnError('DASHBOARD_TOKENS_INVALID', `${where} is not NAME:TOKEN`, {
        kind: 'usage',
        hint: 'write one NAME:TOKEN per line (or comma-separated), NAME of letters, digits, . _ @ -',
      });
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new KilnError(
        'DASHBOARD_TOKENS_INVALID',
        `${where} (${name}): the token is shorter than ${MIN_TOKEN_LENGTH} characters`,
        {
          kind: 'usage',
          hint: 'make one with: openssl rand -hex 24',
        },
      );
    }
    if (entries.some((e) => e.name === name)) {
      throw new KilnError('DASHBOARD_TOKENS_INVALID', `${where}: the name ${name} is used twice`, {
        kind: 'usage',
        hint: 'give each person or automation its own name, so the history says who acted',
      });
    }
    entries.push({ name, hash: sha256(token) });
  }
  return {
    size: entries.length,
    who(token) {
      const h = sha256(token);
      let found: string | undefined;
      // Hashing first gives equal lengths; every entry is compared so timing says nothing.
      for (const e of entries) if (timingSafeEqual(e.hash, h) && found === undefined) found = e.name;
      return found;
    },
  };
}

/** Tokens from the environment; an empty set means the dashboard is read-only. */
export function tokensFromEnv(env: NodeJS.ProcessEnv): TokenSet {
  const file = env['KILN_DASHBOARD_TOKENS_FILE'];
  const inline = env['KILN_DASHBOARD_TOKENS'];
  let text = inline ?? '';
  if (file) {
    try {
      text += `\n${readFileSync(file, 'utf8')}`;
    } catch (e) {
      throw new KilnError(
        'DASHBOARD_TOKENS_INVALID',
        `cannot read KILN_DASHBOARD_TOKENS_FILE ${file}: ${(e as Error).message}`,
        {
          kind: 'usage',
          hint: 'point it at a readable file of NAME:TOKEN lines (e.g. a mounted Secret key)',
          cause: e,
        },
      );
    }
  }
  return parseTokens(text, file ? `KILN_DASHBOARD_TOKENS(_FILE ${file})` : 'KILN_DASHBOARD_TOKENS');
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
