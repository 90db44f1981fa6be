// `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one header may carry several challenges, each
// `scheme param=value, param="quoted, with commas"`. Registries answer 401 with either
// `Basic realm="..."` or `Bearer realm="...",service="...",scope="repository:x:pull"`
// (distribution `docs/spec/auth/token.md`); kiln never hard-codes a realm, it reads it here.

export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseChallenges(header: string | undefined): Challenge[] {
  const s = header ?? '';
  const out: Challenge[] = [];
  let i = 0;
  const skip = (chars: string): void => {
    while (i < s.length && chars.includes(s[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  // Unquoted values should be tokens, but some servers write `realm=https://host/token` bare.
  const bare = (): string => {
    const start = i;
    while (i < s.length && !' \t,'.includes(s[i]!)) i++;
    return s.slice(start, i);
  };
  const quoted = (): string => {
    let v = '';
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skip(' \t,');
    const name = token();
    if (!name) {
      i++; // stray character: step over it rather than loop forever
      continue;
    }
    skip(' \t');
    if (s[i] === '=' && s[i + 1] !== '=') {
      i++;
      skip(' \t');
      const value = s[i] === '"' ? quoted() : bare();
      if (current) current.params[name.toLowerCase()] = value; // (a parameter before any scheme is dropped)
      continue;
    }
    // A new scheme; a token68 (e.g. `Negotiate abc==`) directly after it is skipped.
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
    const after = i;
    const t68 = token();
    const end = i;
    skip(' \t');
    if (t68 && s[i] === '=' && s[i + 1] !== '=') {
      i = after; // it was a parameter name: reparse it as one
    } else {
      i = end;
      skip('=');
    }
  }
  return out;
}

/** The challenge kiln answers: Bearer when offered (scoped tokens), else Basic; other schemes are unsupported. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
