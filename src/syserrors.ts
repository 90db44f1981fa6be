// Operating-system errors (DNS, TCP, TLS, filesystem) as KilnErrors with stable codes. These are
// ordinary mistakes (a typo in a host name, a folder without write permission, a full disk), so
// they must read as such, naming the host or path and the fix, never as "a bug in kiln".
// Node puts the failing path on `path` (fs) and the host on `hostname`/`address` (dns, net).
import { KilnError } from './errors.ts';

type SysError = NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number; dest?: string };

const TLS =
  /^(EPROTO|ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_)/;

/** The KilnError for an OS-level failure, or undefined when `e` is not one (a real bug). */
export function classifySystemError(e: unknown, what?: string): KilnError | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as SysError;
  const code = err.code ?? '';
  const path = err.path ?? err.dest;
  const host = err.hostname ?? (err.address ? `${err.address}${err.port ? `:${err.port}` : ''}` : undefined);
  const doing = what ? ` (${what})` : '';
  const make = (c: string, message: string, hint: string, kind: 'usage' | 'failed' = 'failed') =>
    new KilnError(c, message + doing, { kind, hint, cause: e, details: { errno: code, path, host } });
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make(
        'HOST_NOT_FOUND',
        `cannot resolve host ${host ?? '(unknown)'}: ${code === 'EAI_AGAIN' ? 'DNS lookup failed (no network or no DNS server?)' : 'no such host'}`,
        'check the host name for typos, and that this machine has network access and DNS',
      );
    case 'ECONNREFUSED':
      return make(
        'CONNECTION_REFUSED',
        `nothing is listening at ${host ?? 'the address'}`,
        'is the server running, and are the host and port right?',
      );
    case 'EACCES':
    case 'EPERM':
      return make(
        'PERMISSION_DENIED',
        `permission denied: ${path ?? err.message}`,
        `choose a folder you can write to, or fix its permissions (ls -ld ${path ?? 'PATH'})`,
        'usage',
      );
    case 'EROFS':
      return make(
        'READ_ONLY_FILESYSTEM',
        `${path ?? 'the path'} is on a read-only filesystem`,
        'write somewhere else',
        'usage',
      );
    case 'ENOTDIR':
      return make(
        'NOT_A_DIRECTORY',
        `${path ?? 'a path'}: a part of this path is a file, not a folder`,
        'choose a path whose parent folders are folders',
        'usage',
      );
    case 'EISDIR':
      return make('IS_A_DIRECTORY', `${path ?? 'the path'} is a folder, not a file`, 'name a file', 'usage');
    case 'ENOENT':
      return make(
        'PATH_NOT_FOUND',
        `${path ?? 'a path'} does not exist`,
        'check the path, or create its folder first',
        'usage',
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return make(
        'DISK_FULL',
        `no space left${path ? ` writing ${path}` : ''}`,
        'free some disk space (df -h shows where) or write to another disk, then run again',
      );
    case 'EMFILE':
    case 'ENFILE':
      return make('TOO_MANY_OPEN_FILES', 'too many open files', 'raise the limit (ulimit -n) and run again');
  }
  if (TLS.test(code) || /wrong version number|ssl3_get_record|packet length too long/i.test(err.message)) {
    const plain = /wrong version number|packet length too long|ssl3_get_record/i.test(err.message);
    return make(
      'TLS_FAILED',
      `TLS with ${host ?? 'the server'} failed: ${plain ? 'the server answered in plain HTTP, not HTTPS' : err.message}`,
      plain
        ? 'use http:// for that server (for a registry: list it under registry.insecure in kiln.yaml)'
        : 'if it uses a private CA, trust that CA with NODE_EXTRA_CA_CERTS=ca.pem',
    );
  }
  return undefined;
}
