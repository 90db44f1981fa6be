// JSON bytes as Go's encoding/json.Marshal writes them, so payloads and manifests kiln makes are
// byte-identical to cosign's: map keys sorted, struct fields in declaration order (wrap those
// objects in `GoStruct`; an undefined field is an omitted `omitempty`), `<`, `>`, `&`, U+2028
// and U+2029 escaped as \u003c..., lone surrogates replaced by U+FFFD.

/** Marks an object whose keys are Go struct fields: written in insertion order, not sorted. */
export class GoStruct {
  readonly fields: Record<string, unknown>;
  constructor(fields: Record<string, unknown>) {
    this.fields = fields;
  }
}

const ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

function goString(s: string): string {
  return JSON.stringify(s.toWellFormed()).replace(/[<>&\u2028\u2029]/g, (c) => ESCAPES[c] ?? c);
}

export function goJson(value: unknown): string {
  if (value instanceof GoStruct) {
    const parts = Object.entries(value.fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${goString(k)}:${goJson(v)}`);
    return `{${parts.join(',')}}`;
  }
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('json: unsupported value: non-finite number');
    return JSON.stringify(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (typeof value === 'object') {
    // A Go map: keys sorted by their UTF-8 bytes (not JS's UTF-16 order), undefined dropped.
    const rec = value as Record<string, unknown>;
    const keys = Object.keys(rec)
      .filter((k) => rec[k] !== undefined)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return `{${keys.map((k) => `${goString(k)}:${goJson(rec[k])}`).join(',')}}`;
  }
  throw new TypeError(`json: unsupported type ${typeof value}`);
}
