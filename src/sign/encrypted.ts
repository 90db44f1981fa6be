// The password-encrypted box cosign wraps private keys in: the `encrypted` package of
// secure-systems-lab/go-securesystemslib (encrypted/encrypted.go), used by cosign
// pkg/cosign/keys.go. JSON: {"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
// "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}; byte fields are standard base64
// (Go's []byte JSON encoding); ciphertext is NaCl secretbox.Seal output (16-byte tag first).
import { randomBytes, scrypt } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * The only parameter sets Go's `CheckParams` accepts (2^15 legacy, 2^16 standard, 2^17 OWASP):
 * anything else is refused before deriving, so a tampered file cannot make us burn memory.
 * kiln WRITES the legacy 2^15 set: every cosign release reads it (cosign 2.6.5 itself writes
 * 2^16, and releases before go-securesystemslib 0.8 accept only 2^15).
 */
export const ACCEPTED_SCRYPT: readonly ScryptParams[] = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];
export const WRITE_SCRYPT: ScryptParams = { N: 32768, r: 8, p: 1 };

const SALT_SIZE = 32;
const NONCE_SIZE = 24;
const KEY_SIZE = 32;

export type OpenResult =
  | { ok: true; plaintext: Uint8Array }
  | { ok: false; reason: 'format' | 'kdf' | 'cipher' | 'params' | 'password' };

function deriveKey(password: Uint8Array, salt: Uint8Array, p: ScryptParams): Promise<Buffer> {
  // scrypt needs 128*N*r bytes (128 MiB at N=2^17); node's default maxmem is 32 MiB.
  const maxmem = 128 * p.N * p.r + 32 * 1024 * 1024;
  return new Promise((res, rej) => {
    scrypt(password, salt, KEY_SIZE, { N: p.N, r: p.r, p: p.p, maxmem }, (err, key) =>
      err ? rej(err) : res(key),
    );
  });
}

/** Seal `plaintext` under `password`; returns the JSON document cosign stores inside the PEM. */
export async function sealBox(
  plaintext: Uint8Array,
  password: Uint8Array,
  params: ScryptParams = WRITE_SCRYPT,
): Promise<Buffer> {
  const salt = randomBytes(SALT_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  const key = await deriveKey(password, salt, params);
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(plaintext);
  key.fill(0);
  const doc = {
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return Buffer.from(JSON.stringify(doc));
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
function b64(v: unknown): Buffer | undefined {
  return typeof v === 'string' && B64.test(v) && v.length % 4 === 0 ? Buffer.from(v, 'base64') : undefined;
}

/** Open a box made by cosign (or `sealBox`). Never throws: the caller names the file in its error. */
export async function openBox(doc: Uint8Array, password: Uint8Array): Promise<OpenResult> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(doc).toString('utf8'));
  } catch {
    return { ok: false, reason: 'format' };
  }
  const d = parsed as {
    kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
    cipher?: { name?: unknown; nonce?: unknown };
    ciphertext?: unknown;
  };
  if (typeof d !== 'object' || d === null) return { ok: false, reason: 'format' };
  if (d.kdf?.name !== 'scrypt') return { ok: false, reason: 'kdf' };
  if (d.cipher?.name !== 'nacl/secretbox') return { ok: false, reason: 'cipher' };
  const params = ACCEPTED_SCRYPT.find(
    (a) => a.N === d.kdf?.params?.N && a.r === d.kdf?.params?.r && a.p === d.kdf?.params?.p,
  );
  if (!params) return { ok: false, reason: 'params' };
  const salt = b64(d.kdf.salt);
  const nonce = b64(d.cipher.nonce);
  const ciphertext = b64(d.ciphertext);
  if (!salt || !nonce || nonce.length !== NONCE_SIZE || !ciphertext || ciphertext.length < 16) {
    return { ok: false, reason: 'format' };
  }
  const key = await deriveKey(password, salt, params);
  try {
    return { ok: true, plaintext: xsalsa20poly1305(key, nonce).decrypt(ciphertext) };
  } catch {
    // Poly1305 tag mismatch: a wrong password (or a damaged ciphertext: the two look the same).
    return { ok: false, reason: 'password' };
  } finally {
    key.fill(0);
  }
}
