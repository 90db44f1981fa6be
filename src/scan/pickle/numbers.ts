// Text arguments of protocol-0 opcodes, parsed twice: as CPython's C unpickler (Modules/_pickle.c)
// and as pickle.py would. pickle only ever WRITES canonical forms (`I%d\n`, `F%r\n`, `L%dL\n`), so
// any other spelling is crafted: it is reported even when both parsers agree, and reported as a
// parser differential when they do not (e.g. `I07\n`: C strtol base 0 reads octal 7, pickle.py's
// int(b'07', 0) raises). pickletools rejects `I0x10\n` that both unpicklers accept: that is how
// picklescan and ModelScan were bypassed (research §1.3).

export interface ParsedNumber {
  /** The value when the C unpickler accepts it (torch.load, pickle.load). */
  c: number | bigint | undefined;
  /** The value when pickle.py accepts it (joblib uses pickle._Unpickler). */
  py: number | bigint | undefined;
  canonical: boolean;
}

const CANON_INT = /^-?(0|[1-9][0-9]*)$/;
const CANON_FLOAT = /^-?(\d+(\.\d*)?([eE][-+]?\d+)?|inf|nan)$/;

/** Python int(s, 0) on bytes: whitespace, sign, 0x/0o/0b prefixes, single underscores between digits. */
export function pyIntBase0(s: string): bigint | undefined {
  const t = s.trim();
  const m =
    /^([-+]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)$/.exec(
      t,
    );
  if (!m) return undefined;
  const body = m[2]!.replace(/_/g, '');
  const v = BigInt(body.toLowerCase());
  return m[1] === '-' ? -v : v;
}

/** Python int(s) (base 10) as used by pickle.py for PUT/GET text arguments. */
export function pyIntBase10(s: string): bigint | undefined {
  const t = s.trim();
  if (!/^[-+]?[0-9](?:_?[0-9])*$/.test(t)) return undefined;
  return BigInt(t.replace(/_/g, ''));
}

/** C strtol(s, &end, 0) with PyLong_FromString(s, NULL, 0) as fallback, as load_int does. */
function cIntBase0(s: string): bigint | undefined {
  // strtol: optional whitespace, sign, then 0x hex | 0 octal | decimal; must consume up to the newline.
  const m = /^\s*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m) {
    const d = m[2]!;
    let v: bigint;
    if (/^0[xX]/.test(d)) v = BigInt(d);
    else if (d.length > 1 && d.startsWith('0')) v = BigInt(`0o${d.slice(1)}`);
    else v = BigInt(d);
    return m[1] === '-' ? -v : v;
  }
  // Fallback: PyLong_FromString base 0 has Python's int() grammar.
  return pyIntBase0(s);
}

const small = (v: bigint | undefined): number | bigint | undefined =>
  v === undefined
    ? undefined
    : v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;

/** `I<text>\n`: the line without its newline. `00`/`01` are False/True in both parsers. */
export function parseIntLine(line: string): ParsedNumber {
  if (line === '00' || line === '01') return { c: Number(line), py: Number(line), canonical: true };
  return { c: small(cIntBase0(line)), py: small(pyIntBase0(line)), canonical: CANON_INT.test(line) };
}

/** `L<text>L\n`: both strip one trailing L and use base 0. */
export function parseLongLine(line: string): ParsedNumber {
  const body = line.endsWith('L') ? line.slice(0, -1) : line;
  const v = small(pyIntBase0(body));
  return { c: v, py: v, canonical: CANON_INT.test(body) };
}

/** `F<text>\n`: C uses PyOS_string_to_double (no underscores, no surrounding spaces), pickle.py float(). */
export function parseFloatLine(line: string): ParsedNumber {
  const cOk = /^[-+]?((\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|inf(inity)?|nan)$/i.test(line);
  const t = line.trim();
  const pyOk =
    /^[-+]?(((\d(_?\d)*)(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][-+]?\d(_?\d)*)?|inf(inity)?|nan)$/i.test(t);
  const v = (ok: boolean, s: string): number | undefined =>
    ok ? Number.parseFloat(s.replace(/_/g, '')) : undefined;
  return { c: v(cOk, line), py: v(pyOk, t), canonical: CANON_FLOAT.test(line) };
}

/** PUT/GET text index: C PyLong_FromString(s, NULL, 10), pickle.py int(s): the same grammar. */
export function parseIndexLine(line: string): ParsedNumber {
  const v = small(pyIntBase10(line));
  return { c: v, py: v, canonical: CANON_INT.test(line) };
}
