// Registry credentials found where Docker keeps them (docker/cli `cli/config/configfile/file.go`):
// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. Lookup order as Docker's
// GetCredentialsStore: `credHelpers[host]`, then `credsStore`, then the inline `auths` entry.
// (Docker ignores inline `auths` once a store is configured; kiln falls back to them when the
// store has nothing for the host, which only ever finds more credentials, never different ones.)
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KilnError } from '../../errors.ts';
import { runCredentialHelper } from './credhelper.ts';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user), exchanged at the token realm. */
  identityToken?: string;
}

/** Credentials for a registry host (as written in image references), or undefined for anonymous. */
export type CredentialResolver = (registry: string) => Promise<Credentials | undefined>;

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export interface DockerKeychainOptions {
  /** The config.json to read; default from DOCKER_CONFIG / HOME in `env`. */
  path?: string;
  /** Environment for DOCKER_CONFIG, HOME and the helpers' PATH; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** Docker Hub answers to several names; Docker stores its credentials under the v1 index URL. */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** Keys to look up for a host, the first being the server address Docker hands to helpers. */
export function credentialKeys(registry: string): string[] {
  const host = registry.toLowerCase();
  return HUB_KEYS.includes(host) ? HUB_KEYS : [host];
}

/** docker/cli `credentials.ConvertToHostname`: `https://host:5000/v1/` -> `host:5000`. */
export function toHostname(key: string): string {
  return key
    .replace(/^https?:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
}

function lookup<T>(map: Record<string, T> | undefined, keys: string[]): T | undefined {
  if (!map) return undefined;
  for (const k of keys) if (map[k] !== undefined) return map[k];
  const wanted = new Set(keys.map(toHostname));
  const hit = Object.keys(map).find((k) => wanted.has(toHostname(k)));
  return hit === undefined ? undefined : map[hit];
}

export async function readDockerConfig(path: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new Error('not a JSON object');
    return json as DockerConfigFile;
  } catch (e) {
    throw new KilnError(
      'DOCKER_CONFIG_INVALID',
      `Docker config ${path} is not valid JSON: ${(e as Error).message}`,
      {
        kind: 'usage',
        hint: 'fix or remove the file (docker login rewrites it)',
        cause: e,
      },
    );
  }
}

function fromEntry(entry: AuthEntry | undefined, key: string, path: string): Credentials | undefined {
  if (!entry) return undefined;
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new KilnError(
        'DOCKER_CONFIG_INVALID',
        `Docker config ${path}: auths["${key}"].auth is not base64 of user:password`,
        {
          kind: 'usage',
          hint: `run \`docker login ${key}\` again`,
        },
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username || entry.password) return { username: entry.username, password: entry.password };
  return undefined; // `{}`: a placeholder docker login writes when a store holds the secret
}

/** A resolver reading the Docker config once per call and running helpers; results cached per host. */
export function dockerKeychain(opts: DockerKeychainOptions = {}): CredentialResolver {
  const env = opts.env ?? process.env;
  const path = opts.path ?? dockerConfigPath(env);
  const cache = new Map<string, Promise<Credentials | undefined>>();
  const resolve = async (registry: string): Promise<Credentials | undefined> => {
    const config = await readDockerConfig(path);
    if (!config) return undefined;
    const keys = credentialKeys(registry);
    const helper = lookup(config.credHelpers, keys) ?? config.credsStore;
    if (helper) {
      const found = await runCredentialHelper(helper, keys[0]!, env);
      if (found) return found;
    }
    return fromEntry(lookup(config.auths, keys), keys[0]!, path);
  };
  return (registry) => {
    let p = cache.get(registry);
    if (!p) {
      p = resolve(registry);
      cache.set(registry, p);
    }
    return p;
  };
}

/** Fixed credentials per host (tests, or credentials passed on the command line). */
export function staticCredentials(map: Record<string, Credentials>): CredentialResolver {
  return async (registry) => map[registry];
}
