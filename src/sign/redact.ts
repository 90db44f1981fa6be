// Strip secrets from URIs before they are written into signed, public provenance. MLflow users
// put credentials in tracking URIs (`https://user:pass@host`, `?token=...`) and artifact sources
// can be presigned (`X-Amz-Signature`, Azure SAS `sig`); a signed attestation is forever.

/** Query parameter names that carry (or are part of) a credential or a presigned URL. */
const SENSITIVE_PARAM =
  /token|secret|pass|pwd|key|auth|sig|cred|session|cookie|jwt|bearer|code|^x-amz-|^x-goog-|^sv$|^se$|^sp$|^st$|^sr$/i;

export function isSensitiveParam(name: string): boolean {
  return SENSITIVE_PARAM.test(name);
}

/**
 * The URI without userinfo, without sensitive query parameters and without a fragment. A
 * string that does not parse as a URL loses everything after `?` or `#` and any `//...@`
 * userinfo, since we cannot tell which part is safe. Unchanged input is returned as written.
 */
export function redactUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return uri.replace(/[?#].*$/s, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
  }
  let changed = false;
  if (url.username !== '' || url.password !== '') {
    url.username = '';
    url.password = '';
    changed = true;
  }
  for (const name of [...new Set(url.searchParams.keys())]) {
    if (isSensitiveParam(name)) {
      url.searchParams.delete(name);
      changed = true;
    }
  }
  if (url.hash !== '') {
    url.hash = '';
    changed = true;
  }
  // Some schemes (non-special ones) keep userinfo the URL API cannot clear: check the result.
  const out = changed ? url.toString() : uri;
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(out)
    ? out.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1')
    : out;
}
