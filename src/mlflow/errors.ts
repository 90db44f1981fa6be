// MLflow answers errors as `{error_code, message}` (mlflow/exceptions.py serialize_as_json).
// Every KilnError made here keeps the HTTP status and MLflow's error_code in `details`, so callers
// (resolve.ts) can map the ones users meet to precise codes and tests can assert them.
import { describeCause, isKilnError, KilnError } from '../errors.ts';

export interface MlflowErrorContext {
  /** What kiln was doing, for the message: "get model version iris/3". */
  what: string;
  method: string;
  /** The request URL without credentials. */
  url: string;
}

export function mlflowHttpError(ctx: MlflowErrorContext, status: number, body: string): KilnError {
  const parsed = parseErrorBody(body);
  const details = { status, errorCode: parsed.errorCode, mlflowMessage: parsed.message, url: ctx.url };
  const said = parsed.errorCode ? `${parsed.errorCode}: ${parsed.message}` : parsed.message;
  const message = `MLflow ${ctx.what} failed: HTTP ${status}${said ? ` ${said}` : ''}`;
  if (status === 401 || status === 403) {
    return new KilnError('MLFLOW_UNAUTHORIZED', message, {
      kind: 'usage',
      hint: 'check MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      details,
    });
  }
  const hint =
    parsed.errorCode === undefined && status === 404
      ? 'the server did not answer like MLflow: is MLFLOW_TRACKING_URI the tracking server base URL?'
      : undefined;
  return new KilnError('MLFLOW_REQUEST_FAILED', message, { hint, details });
}

export function mlflowUnreachable(ctx: MlflowErrorContext, attempts: number, cause: unknown): KilnError {
  return new KilnError(
    'MLFLOW_UNREACHABLE',
    `cannot reach MLflow at ${ctx.url} (${ctx.what}, ${attempts} attempt${attempts === 1 ? '' : 's'}): ${describeCause(cause)}`,
    { hint: 'is the server running? check MLFLOW_TRACKING_URI', cause, details: { url: ctx.url, attempts } },
  );
}

/** Certificate problems are answers too: retrying cannot fix them, configuration can. */
export function isTlsError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return (
    (typeof code === 'string' && /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL|UNABLE_TO_(GET|VERIFY)/.test(code)) ||
    plainHttpAnswer(e)
  );
}

/** `https://` to a server that speaks plain HTTP: OpenSSL reports "wrong version number". */
const plainHttpAnswer = (e: unknown): boolean =>
  e instanceof Error && /wrong version number|packet length too long/i.test(e.message);

export function mlflowTlsError(ctx: MlflowErrorContext, cause: unknown): KilnError {
  if (plainHttpAnswer(cause)) {
    return new KilnError(
      'MLFLOW_TLS_FAILED',
      `MLflow at ${new URL(ctx.url).origin} answered in plain HTTP, but MLFLOW_TRACKING_URI says https://`,
      {
        kind: 'usage',
        hint: `set MLFLOW_TRACKING_URI=${new URL(ctx.url).origin.replace(/^https:/, 'http:')} (or enable TLS on the server)`,
        cause,
        details: { url: ctx.url },
      },
    );
  }
  return new KilnError('MLFLOW_TLS_FAILED', `TLS to MLflow at ${ctx.url} failed: ${describeCause(cause)}`, {
    kind: 'usage',
    hint: "set MLFLOW_TRACKING_SERVER_CERT_PATH to the server's CA bundle (or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification)",
    cause,
    details: { url: ctx.url },
  });
}

export function mlflowBadResponse(ctx: MlflowErrorContext, problem: string): KilnError {
  return new KilnError('MLFLOW_RESPONSE_INVALID', `MLflow ${ctx.what} answered unexpectedly: ${problem}`, {
    hint: 'is MLFLOW_TRACKING_URI an MLflow tracking server (3.x)?',
    details: { url: ctx.url },
  });
}

/** HTTP status and MLflow error_code of an error made by mlflowHttpError, if it is one. */
export function mlflowStatus(e: unknown): { status: number; errorCode: string | undefined } | undefined {
  if (!isKilnError(e) || typeof e.details['status'] !== 'number') return undefined;
  const code = e.details['errorCode'];
  return { status: e.details['status'], errorCode: typeof code === 'string' ? code : undefined };
}

function parseErrorBody(body: string): { errorCode: string | undefined; message: string } {
  try {
    const j = JSON.parse(body) as { error_code?: unknown; message?: unknown };
    if (typeof j === 'object' && j !== null && typeof j.error_code === 'string') {
      return { errorCode: j.error_code, message: typeof j.message === 'string' ? j.message : '' };
    }
  } catch {
    // not JSON: a proxy's or a non-MLflow server's page
  }
  const text = body.replace(/\s+/g, ' ').trim();
  return { errorCode: undefined, message: text.length > 200 ? `${text.slice(0, 200)}...` : text };
}
