// Reading cosign-compatible keys. Private keys: cosign's encrypted PEM (`ENCRYPTED SIGSTORE
// PRIVATE KEY`, older `ENCRYPTED COSIGN PRIVATE KEY`: sigstore/cosign pkg/cosign/keys.go
// LoadPrivateKey) or plain PKCS#8 / SEC1 EC P-256 PEM. Public keys: PEM `PUBLIC KEY` (SPKI,
// sigstore/sigstore pkg/cryptoutils/publickey.go).
//
// SECRECY: no error built here carries key bytes, PEM text, the password or a library error as
// `cause` (node's decoder messages are not ours to vouch for). Messages name the file and a
// reason from a fixed list; tests trigger every path and search the error for secrets.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KilnError } from '../errors.ts';
import { openBox } from './encrypted.ts';
import { decodePem, type PemBlock } from './pem.ts';

export const SIGSTORE_PRIVATE_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';

export type Password = string | Uint8Array;
/** A password, or a function asked only when the key turns out to be encrypted (prompts lazily). */
export type PasswordSource = Password | (() => Promise<Password>);

/** A P-256 private key ready to sign; `source` names where it came from, for messages. */
export interface SigningKey {
  readonly source: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface VerifyKey {
  readonly source: string;
  readonly publicKey: KeyObject;
}

const READS =
  'kiln reads cosign keys (ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY) and PKCS#8 or SEC1 EC P-256 PEM';

export function keyInvalid(source: string, problem: string, hint = READS): KilnError {
  return new KilnError('KEY_INVALID', `key ${source}: ${problem}`, {
    kind: 'usage',
    hint,
    details: { file: source },
  });
}

async function readKeyFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    throw keyInvalid(file, `cannot read the file (${code})`, 'check the path and its permissions');
  }
}

function pemOf(text: Uint8Array | string, source: string): PemBlock {
  const block = decodePem(typeof text === 'string' ? text : Buffer.from(text).toString('latin1'));
  if (!block) throw keyInvalid(source, 'no readable PEM block (damaged, or not a key file)');
  return block;
}

/** A P-256 EC key, or KEY_INVALID: cosign's default and the only algorithm kiln signs with. */
function requireP256(key: KeyObject, source: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `EC ${curve ?? 'unknown curve'}` : key.asymmetricKeyType;
    throw keyInvalid(source, `is a ${what} key; kiln signs and verifies with ECDSA P-256 only`);
  }
}

/** Private key from PEM text; `password` is consulted only for encrypted keys. */
export async function parsePrivateKey(
  pem: Uint8Array | string,
  source: string,
  password?: PasswordSource,
): Promise<SigningKey> {
  const block = pemOf(pem, source);
  let der: Uint8Array;
  let type: 'pkcs8' | 'sec1' = 'pkcs8';
  if (block.type === SIGSTORE_PRIVATE_PEM || block.type === COSIGN_PRIVATE_PEM) {
    if (password === undefined) {
      throw new KilnError('KEY_PASSWORD_REQUIRED', `key ${source} is encrypted and no password was given`, {
        kind: 'usage',
        hint: 'set COSIGN_PASSWORD (or run on a terminal to be prompted)',
        details: { file: source },
      });
    }
    const pw = typeof password === 'function' ? await password() : password;
    const opened = await openBox(block.bytes, typeof pw === 'string' ? Buffer.from(pw, 'utf8') : pw);
    if (!opened.ok) {
      if (opened.reason === 'password') {
        throw new KilnError('KEY_PASSWORD_WRONG', `key ${source}: the password does not decrypt this key`, {
          kind: 'usage',
          hint: 'use the password the key was created with (COSIGN_PASSWORD or the prompt); a damaged file fails the same way',
          details: { file: source },
        });
      }
      throw keyInvalid(source, `the encrypted key is unreadable (${BOX_REASONS[opened.reason]})`);
    }
    der = opened.plaintext;
  } else if (block.type === 'PRIVATE KEY' || block.type === 'EC PRIVATE KEY') {
    if (block.headers['Proc-Type']?.includes('ENCRYPTED')) {
      throw keyInvalid(
        source,
        'is an OpenSSL-encrypted legacy PEM, which kiln does not read',
        'convert it: openssl pkcs8 -topk8 -in OLD -out NEW, or use kiln keygen / cosign import-key-pair',
      );
    }
    der = block.bytes;
    type = block.type === 'PRIVATE KEY' ? 'pkcs8' : 'sec1';
  } else if (block.type === 'PUBLIC KEY') {
    throw keyInvalid(source, 'is a public key; signing needs the private key (the .key file)');
  } else {
    throw keyInvalid(source, `holds an unsupported PEM block "${block.type}"`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type });
  } catch {
    throw keyInvalid(source, `the ${type === 'pkcs8' ? 'PKCS#8' : 'SEC1'} private key inside does not parse`);
  } finally {
    if (der !== block.bytes) der.fill(0);
    block.bytes.fill(0);
  }
  requireP256(privateKey, source);
  return { source, privateKey, publicKey: createPublicKey(privateKey) };
}

const BOX_REASONS = {
  format: 'not the JSON document cosign writes',
  kdf: 'key derivation is not scrypt',
  cipher: 'cipher is not nacl/secretbox',
  params: 'scrypt parameters are not one of the sets cosign accepts',
} as const;

export async function loadPrivateKey(file: string, password?: PasswordSource): Promise<SigningKey> {
  const bytes = await readKeyFile(file);
  try {
    return await parsePrivateKey(bytes, file, password);
  } finally {
    bytes.fill(0);
  }
}

export function parsePublicKey(pem: Uint8Array | string, source: string): VerifyKey {
  const block = pemOf(pem, source);
  if (block.type !== 'PUBLIC KEY') {
    const priv = block.type.includes('PRIVATE KEY');
    throw keyInvalid(
      source,
      priv
        ? 'is a private key; verifying needs the public key (the .pub file)'
        : `holds "${block.type}", not a PUBLIC KEY`,
      'pass the PEM public key written next to the private key (cosign.pub)',
    );
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
  } catch {
    throw keyInvalid(source, 'the SPKI public key inside does not parse');
  }
  requireP256(publicKey, source);
  return { source, publicKey };
}

export async function loadPublicKey(file: string): Promise<VerifyKey> {
  return parsePublicKey(await readKeyFile(file), file);
}
