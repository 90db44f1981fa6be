// `models:/NAME@ALIAS` and `models:/NAME/VERSION`, parsed the way MLflow parses them
// (mlflow/store/artifact/utils/models.py `_parse_model_uri`): the path after `models:/` has at
// most two `/`-separated parts, a numeric second part is a version, and with one part the text
// after the LAST `@` is the alias. Registered model names cannot contain `/` or `:`
// (mlflow/utils/validation.py `_validate_model_name`); aliases are `[\w-]+`.
// MLflow's other forms (stages, `latest`, `models:/m-<id>` logged models, `models://profile/...`)
// do not name one registered version, so kiln refuses them with the form to use instead.
import { KilnError } from '../errors.ts';

export type ModelRef = { name: string; alias: string } | { name: string; version: string };

const EXAMPLE = 'models:/risk-classifier@champion or models:/risk-classifier/7';
const ALIAS = /^[\p{L}\p{N}_-]+$/u;

export function parseModelUri(text: string): ModelRef {
  const bad = (problem: string, hint = `use ${EXAMPLE}`): KilnError =>
    new KilnError('MODEL_URI_INVALID', `model URI "${text}" ${problem}`, {
      kind: 'usage',
      hint,
      details: { uri: text },
    });
  if (!text.startsWith('models:/')) throw bad('does not start with models:/');
  if (text.startsWith('models://'))
    throw bad('names a remote registry (models://...), which kiln does not support');
  const path = text.slice('models:/'.length);
  const parts = path.split('/');
  if (parts.length > 2) throw bad(`has ${parts.length} path parts; model names cannot contain "/"`);
  const [name = '', suffix] = parts;
  if (suffix !== undefined) return { name: checkName(name, bad), version: checkVersion(suffix, bad) };
  const at = name.lastIndexOf('@');
  if (at < 0) {
    throw bad(
      'names no version or alias',
      `kiln needs one registered version: ${EXAMPLE} (a models:/m-<id> logged model is not registered)`,
    );
  }
  const alias = name.slice(at + 1);
  if (!ALIAS.test(alias)) throw bad(`has an invalid alias "${alias}" (letters, digits, "_" and "-" only)`);
  // MLflow answers get-by-alias "latest" with the newest version (the alias is reserved), which
  // moves without notice: refused like models:/NAME/latest, so both spellings behave the same.
  if (alias.toLowerCase() === 'latest') {
    throw bad(
      'names "latest", which is not an alias but whatever version is newest',
      'pin a version (models:/NAME/7) or use an alias (models:/NAME@champion)',
    );
  }
  return { name: checkName(name.slice(0, at), bad), alias };
}

function checkName(name: string, bad: (problem: string) => KilnError): string {
  if (name.trim() === '') throw bad('has an empty model name');
  if (name.includes(':')) throw bad('has a model name containing ":"');
  return name;
}

function checkVersion(suffix: string, bad: (problem: string, hint?: string) => KilnError): string {
  if (/^[0-9]+$/.test(suffix)) return suffix;
  if (suffix.trim() === '') throw bad('has an empty version');
  throw bad(
    `names "${suffix}", which is not a version number${suffix.toLowerCase() === 'latest' ? ' but whatever version is newest' : ''}`,
    `stages and "latest" move without notice; pin a version (models:/NAME/7) or use an alias (models:/NAME@champion)`,
  );
}

/** The canonical text of a reference, for messages and provenance. */
export function formatModelRef(ref: ModelRef): string {
  return 'alias' in ref ? `models:/${ref.name}@${ref.alias}` : `models:/${ref.name}/${ref.version}`;
}
