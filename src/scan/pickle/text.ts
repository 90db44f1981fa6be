// String arguments. Only names matter to the policy, so anything kiln cannot decode exactly as
// CPython would becomes `undefined` (unknown), and an unknown string used as a global's name is
// blocked (COMPUTED_NAME) rather than guessed.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** BINUNICODE & co: UTF-8 ('surrogatepass' in CPython; a lone surrogate is left unknown here). */
export function decodeUtf8(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** STRING: a repr()-quoted literal, decoded with escape_decode. null = not quoted (both unpicklers raise). */
export function decodeStringLine(line: string): string | undefined | null {
  // pickle.py and _pickle.c strip trailing whitespace? No: both require the quotes at both ends.
  if (line.length < 2) return null;
  const q = line[0];
  if ((q !== "'" && q !== '"') || line.at(-1) !== q) return null;
  const body = line.slice(1, -1);
  if (!body.includes('\\')) return body;
  return unescapeText(body, false);
}

/** UNICODE: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes). */
export function decodeUnicodeLine(line: string): string | undefined {
  const bytes = Buffer.from(line, 'latin1');
  if (!line.includes('\\')) return decodeLatin1AsUnicode(bytes);
  return unescapeText(line, true);
}

function decodeLatin1AsUnicode(b: Buffer): string {
  return b.toString('latin1');
}

function unescapeText(s: string, rawUnicode: boolean): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[i + 1];
    if (rawUnicode) {
      if (n === 'u' || n === 'U') {
        const len = n === 'u' ? 4 : 8;
        const hex = s.slice(i + 2, i + 2 + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) return undefined;
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        i += 1 + len;
      } else out += c;
      continue;
    }
    const simple: Record<string, string> = {
      '\\': '\\',
      "'": "'",
      '"': '"',
      n: '\n',
      t: '\t',
      r: '\r',
      '0': '\0',
    };
    if (n !== undefined && simple[n] !== undefined && !(n === '0' && /[0-7]/.test(s[i + 2] ?? ''))) {
      out += simple[n];
      i += 1;
    } else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else return undefined;
  }
  return out;
}
