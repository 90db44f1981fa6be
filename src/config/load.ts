import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { KilnError } from '../errors.ts';
import { closest, knownKeys, relativeTo } from './keys.ts';
import { type Config, ConfigSchema } from './schema.ts';

export interface LoadConfigOptions {
  /** Explicit file (`--config`); an explicit file that does not exist is an error. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file the config came from, if any (shown by `--verbose`). */
  file: string | undefined;
}

/** Resolve config: file (explicit, $KILN_CONFIG, or ./kiln.yaml) < environment. Flags are applied by cli/. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.file ?? env['KILN_CONFIG'];
  const file = explicit
    ? resolve(cwd, explicit)
    : existsSync(resolve(cwd, 'kiln.yaml'))
      ? resolve(cwd, 'kiln.yaml')
      : undefined;

  let raw: unknown = {};
  if (file) {
    if (!existsSync(file)) {
      throw new KilnError('CONFIG_NOT_FOUND', `config file ${file} does not exist`, {
        kind: 'usage',
        hint: 'pass an existing file to --config (or unset KILN_CONFIG)',
      });
    }
    // The YAML parser loads only when there is a file (~20 ms of every CLI start-up otherwise).
    const { parseYaml } = await import('./yaml-file.ts');
    raw = parseYaml(file, readFileSync(file, 'utf8'));
  }
  // Paths in a config file mean what they say next to that file, wherever kiln is started from.
  const merged = applyEnv(file ? relativeTo(raw ?? {}, dirname(file)) : (raw ?? {}), env);
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw configError(file, parsed.error, env);
  return { config: parsed.data, file };
}

/** MLflow's and kiln's environment variables override the file (flags override both, in cli/). */
function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const out = structuredClone(raw) as Record<string, Record<string, unknown> | undefined>;
  const set = (section: string, key: string, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    const s = out[section] ?? {};
    s[key] = value;
    out[section] = s;
  };
  set('mlflow', 'trackingUri', env['MLFLOW_TRACKING_URI']);
  set('build', 'target', env['KILN_TARGET']);
  set('build', 'base', env['KILN_BASE']);
  set('build', 'signKey', env['KILN_SIGN_KEY']);
  set('build', 'signatureFormat', env['KILN_SIGNATURE_FORMAT']);
  return out;
}

/** Which environment variable sets a key, so an error names what the user actually typed. */
const ENV_FOR: Record<string, string> = {
  'mlflow.trackingUri': 'MLFLOW_TRACKING_URI',
  'build.target': 'KILN_TARGET',
  'build.base': 'KILN_BASE',
  'build.signKey': 'KILN_SIGN_KEY',
};

function configError(file: string | undefined, error: z.ZodError, env: NodeJS.ProcessEnv): KilnError {
  const lines = error.issues.map((i) => {
    const key = i.path.length > 0 ? i.path.map(String).join('.') : '(top level)';
    const variable = ENV_FOR[key];
    if (variable && env[variable]) {
      const why = key === 'mlflow.trackingUri' ? 'is not a URL; write it as http(s)://host:port' : i.message;
      return `${variable}="${env[variable]}" ${why} (it sets ${key})`;
    }
    const where = file ?? 'configuration (environment)';
    if (i.code === 'unrecognized_keys') {
      const known = knownKeys(i.path.map(String));
      const keys = (i as { keys: string[] }).keys.map((k) => {
        const near = closest(k, known);
        return `unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`;
      });
      return `${where}: ${key}: ${keys.join(', ')}`;
    }
    return `${where}: ${key}: ${i.message}`;
  });
  return new KilnError('CONFIG_INVALID', lines.join('\n'), {
    kind: 'usage',
    hint: 'fix the key(s) above; see README.md for every setting and its default',
    details: { file, issues: error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
  });
}
