// How kiln reaches MLflow, resolved once. The settings follow MLflow's own environment variables
// (mlflow/environment_variables.py) so a user's existing shell setup works unchanged; library code
// takes this object and never reads process.env itself.
import { KilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RetryPolicy } from './retry.ts';

export interface MlflowOptions {
  /** http(s) base URL of the tracking server, possibly with a path prefix (reverse proxies). */
  trackingUri: string;
  /** Bearer token (MLFLOW_TRACKING_TOKEN). */
  token?: string | undefined;
  /** Basic auth (MLFLOW_TRACKING_USERNAME/PASSWORD); wins over the token, as in MLflow's client. */
  username?: string | undefined;
  password?: string | undefined;
  /** Skip TLS verification (MLFLOW_TRACKING_INSECURE_TLS). */
  insecureTls?: boolean | undefined;
  /** CA bundle to trust (MLFLOW_TRACKING_SERVER_CERT_PATH). */
  caCertPath?: string | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** Per JSON request; downloads use it as an idle (no bytes) timeout instead. Default 30 s. */
  timeoutMs?: number | undefined;
  log?: Logger | undefined;
}

/**
 * Options from MLflow's environment variables. `fallback.trackingUri` (kiln.yaml's
 * mlflow.trackingUri) is used when MLFLOW_TRACKING_URI is unset: env overrides file.
 */
export function mlflowOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  fallback: { trackingUri?: string | undefined } = {},
): MlflowOptions {
  const trackingUri = nonEmpty(env['MLFLOW_TRACKING_URI']) ?? fallback.trackingUri;
  if (trackingUri === undefined) {
    throw new KilnError('MLFLOW_URI_MISSING', 'no MLflow tracking server is configured', {
      kind: 'usage',
      hint: 'set MLFLOW_TRACKING_URI (e.g. export MLFLOW_TRACKING_URI=http://mlflow.example.com:5000)',
    });
  }
  checkTrackingUri(trackingUri);
  return {
    trackingUri,
    token: nonEmpty(env['MLFLOW_TRACKING_TOKEN']),
    username: nonEmpty(env['MLFLOW_TRACKING_USERNAME']),
    password: nonEmpty(env['MLFLOW_TRACKING_PASSWORD']),
    insecureTls: parseBool('MLFLOW_TRACKING_INSECURE_TLS', env['MLFLOW_TRACKING_INSECURE_TLS']),
    caCertPath: nonEmpty(env['MLFLOW_TRACKING_SERVER_CERT_PATH']),
  };
}

/** kiln talks REST, so only an http(s) server will do (not `databricks`, `sqlite:`, `file:`...). */
export function checkTrackingUri(uri: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(uri);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new KilnError('MLFLOW_URI_INVALID', `MLflow tracking URI "${uri}" is not an http(s) URL`, {
      kind: 'usage',
      hint: 'kiln talks to a tracking server over REST: set MLFLOW_TRACKING_URI=http(s)://host:port',
    });
  }
  return url;
}

/** The Authorization header MLflow's python client would send (rest_utils.py: basic, else bearer). */
export function authorizationHeader(opts: MlflowOptions): string | undefined {
  if (opts.username !== undefined && opts.password !== undefined) {
    return `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  }
  if (opts.token !== undefined) return `Bearer ${opts.token}`;
  return undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** MLflow's _BooleanEnvironmentVariable accepts true/false/1/0 (any case) and rejects the rest. */
function parseBool(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new KilnError('CONFIG_INVALID', `${name}="${v}" is not a boolean`, {
    kind: 'usage',
    hint: `set ${name} to true or false`,
  });
}
