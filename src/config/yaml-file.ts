import { parseDocument } from 'yaml';
import { KilnError } from '../errors.ts';

// kiln.yaml's text -> a plain value, or CONFIG_INVALID pointing at FILE:LINE:COL. Its own module so
// that load.ts can import it only when a config file exists.

export function parseYaml(file: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0];
    throw new KilnError(
      'CONFIG_INVALID',
      `${file}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`,
      {
        kind: 'usage',
        hint: 'fix the YAML syntax at that position',
      },
    );
  }
  const value: unknown = doc.toJS();
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    throw new KilnError('CONFIG_INVALID', `${file}: expected a mapping of settings at the top level`, {
      kind: 'usage',
      hint: 'see README.md for an example kiln.yaml',
    });
  }
  return value;
}
