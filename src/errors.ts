// Typed errors with stable codes (modelled on sigstore-js `error.ts`): tests assert `code`,
// the CLI maps `kind` to an exit code, and every message names the object, the problem and the fix.

/** What kind of failure this is; the CLI turns it into an exit code (see DESIGN.md). */
export type ErrorKind = 'failed' | 'usage' | 'policy';

export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = { failed: 1, usage: 2, policy: 3 };

export interface KilnErrorOptions {
  /** What the user can do about it; printed on its own line after the message. */
  hint?: string;
  kind?: ErrorKind;
  cause?: unknown;
  /** Structured facts for `--json` output and tests (HTTP status, registry error body, digest...). */
  details?: Record<string, unknown>;
}

export class KilnError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KilnError';
    this.code = code;
    this.kind = options.kind ?? 'failed';
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export function isKilnError(e: unknown, code?: string): e is KilnError {
  return e instanceof KilnError && (code === undefined || e.code === code);
}

/** A short, single-line description of any thrown value, for wrapping causes into messages. */
export function describeCause(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    // undici hides the socket error in `cause`; surface it (ECONNREFUSED is what users recognise).
    const inner = e.cause instanceof Error ? `: ${describeCause(e.cause)}` : '';
    return `${code ? `${code} ` : ''}${e.message}${inner}`;
  }
  return String(e);
}
