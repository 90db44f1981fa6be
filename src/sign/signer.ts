// ECDSA P-256 over SHA-256 with ASN.1 DER signatures: what cosign makes and checks
// (sigstore/sigstore pkg/signature/ecdsa.go uses ecdsa.SignASN1 / VerifyASN1). node:crypto's
// default encoding is DER; WebCrypto's raw r||s would not verify in cosign.
import { sign, verify } from 'node:crypto';
import type { SigningKey, VerifyKey } from './keys.ts';

export function signBytes(key: SigningKey, data: Uint8Array): Buffer {
  return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'der' });
}

/** True when `signature` (DER) is `key`'s signature over `data`; malformed input is just false. */
export function verifyBytes(key: VerifyKey, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify('sha256', data, { key: key.publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict padded base64, standard or URL-safe (go-securesystemslib dsse b64Decode accepts both): Buffer.from(s, 'base64') silently skips
 * characters it does not know, so a damaged value would decode to something instead of failing.
 */
export function decodeBase64(s: string): Buffer | undefined {
  const t = s.replace(/[\r\n]/g, ''); // Go's decoder skips newlines, nothing else
  if (t.length % 4 !== 0) return undefined;
  if (B64.test(t)) return Buffer.from(t, 'base64');
  if (B64URL.test(t)) return Buffer.from(t, 'base64url');
  return undefined;
}
