// Keys: reading cosign's encrypted format and plain PEM keys, writing key pairs, and the rule that
// no error ever carries key material (every error path is triggered and searched for secrets).
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { describeCause, isKilnError, KilnError } from '../../src/errors.ts';
import { sealBox } from '../../src/sign/encrypted.ts';
import { generateKeyPair, writeKeyPair } from '../../src/sign/keygen.ts';
import { loadPrivateKey, loadPublicKey, parsePrivateKey, parsePublicKey } from '../../src/sign/keys.ts';
import { decodePem, encodePem } from '../../src/sign/pem.ts';
import { signBytes, verifyBytes } from '../../src/sign/signer.ts';
import { tempDir } from '../rig/proc.ts';

const PASSWORD = 'Horse-Battery-Staple-42';
let dir: { path: string; remove: () => Promise<void> };
let encryptedPem: string;
let publicPem: string;

before(async () => {
  dir = await tempDir('sign-keys');
  ({ privatePem: encryptedPem, publicPem } = await generateKeyPair(PASSWORD));
});
after(() => dir.remove());

/** Every string an error could show anywhere: message, hint, details, stack, cause, inspect. */
function surfaces(e: unknown): string {
  assert.ok(e instanceof KilnError, `expected a KilnError, got ${inspect(e)}`);
  return [
    e.message,
    e.hint ?? '',
    JSON.stringify(e.details),
    e.stack ?? '',
    e.cause === undefined ? '' : describeCause(e.cause),
    inspect(e, { depth: 20, showHidden: true }),
  ].join('\n');
}

/** Substrings that would reveal a key: the password, PEM body lines, DER and the private scalar. */
function secretsOf(pem: string, key: KeyObject | undefined): string[] {
  const lines = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  const out = [PASSWORD, ...lines.map((l) => l.slice(0, 24))];
  if (key) {
    const der = key.export({ format: 'der', type: 'pkcs8' });
    const d = key.export({ format: 'jwk' }).d ?? '';
    out.push(
      der.toString('hex').slice(-48),
      der.toString('base64').slice(-32),
      d,
      Buffer.from(d, 'base64url').toString('hex'),
    );
  }
  return out.filter((s) => s.length >= 8);
}

async function expectKeyError(
  code: string,
  run: () => Promise<unknown>,
  secrets: string[],
  mention?: string,
): Promise<KilnError> {
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  assert.ok(isKilnError(caught, code), `expected ${code}, got ${inspect(caught)}`);
  const text = surfaces(caught);
  for (const s of secrets)
    assert.ok(!text.includes(s), `${code} leaks secret material "${s.slice(0, 6)}..."`);
  if (mention)
    assert.ok(caught.message.includes(mention), `${code} message should name ${mention}: ${caught.message}`);
  return caught;
}

interface BoxDoc {
  kdf: { name: string; params: { N: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function replaceBody(pem: string, mutate: (doc: BoxDoc) => void): string {
  const block = decodePem(pem)!;
  const doc = JSON.parse(block.bytes.toString()) as BoxDoc;
  mutate(doc);
  return encodePem(block.type, Buffer.from(JSON.stringify(doc)));
}

describe('reading private keys', () => {
  test('a key kiln generated decrypts with its password and signs what its public key verifies', async () => {
    const key = await parsePrivateKey(encryptedPem, 'k.key', PASSWORD);
    const pub = parsePublicKey(publicPem, 'k.pub');
    const sig = signBytes(key, Buffer.from('payload'));
    assert.equal(verifyBytes(pub, Buffer.from('payload'), sig), true);
    assert.equal(verifyBytes(pub, Buffer.from('payloaD'), sig), false);
  });

  test('the generated file is cosign format: ENCRYPTED SIGSTORE PRIVATE KEY around scrypt + nacl/secretbox JSON', () => {
    const block = decodePem(encryptedPem)!;
    assert.equal(block.type, 'ENCRYPTED SIGSTORE PRIVATE KEY');
    const doc = JSON.parse(block.bytes.toString());
    assert.deepEqual(Object.keys(doc), ['kdf', 'cipher', 'ciphertext']);
    assert.deepEqual(doc.kdf.params, { N: 32768, r: 8, p: 1 });
    assert.equal(doc.kdf.name, 'scrypt');
    assert.equal(Buffer.from(doc.kdf.salt, 'base64').length, 32);
    assert.equal(doc.cipher.name, 'nacl/secretbox');
    assert.equal(Buffer.from(doc.cipher.nonce, 'base64').length, 24);
    assert.ok(encryptedPem.split('\n').every((l) => l.length <= 64));
  });

  test('the older ENCRYPTED COSIGN PRIVATE KEY label reads the same', async () => {
    const old = encryptedPem.replaceAll('SIGSTORE', 'COSIGN');
    const key = await parsePrivateKey(old, 'old.key', PASSWORD);
    assert.equal(key.privateKey.asymmetricKeyType, 'ec');
  });

  test('keys sealed with the scrypt strengths newer cosign writes (N=2^16, 2^17) read too', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    for (const N of [65536, 131072]) {
      const pem = encodePem(
        'ENCRYPTED SIGSTORE PRIVATE KEY',
        await sealBox(der, Buffer.from(PASSWORD), { N, r: 8, p: 1 }),
      );
      const key = await parsePrivateKey(pem, `n${N}.key`, PASSWORD);
      assert.equal(key.publicKey.export({ format: 'jwk' }).x, privateKey.export({ format: 'jwk' }).x);
    }
  });

  test('the password source is asked only for encrypted keys', async () => {
    let asked = 0;
    const ask = async () => {
      asked++;
      return PASSWORD;
    };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await parsePrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'plain.pem', ask);
    assert.equal(asked, 0);
    await parsePrivateKey(encryptedPem, 'k.key', ask);
    assert.equal(asked, 1);
  });

  test('plain PKCS#8 (PRIVATE KEY) and SEC1 (EC PRIVATE KEY) P-256 PEM keys read without a password', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = parsePublicKey(publicKey.export({ format: 'pem', type: 'spki' }) as string, 'p.pub');
    for (const type of ['pkcs8', 'sec1'] as const) {
      const pem = privateKey.export({ format: 'pem', type }) as string;
      const key = await parsePrivateKey(pem, `${type}.pem`);
      assert.equal(verifyBytes(pub, Buffer.from('x'), signBytes(key, Buffer.from('x'))), true);
    }
  });
});

describe('key errors are specific and never carry key material', () => {
  test('wrong password: KEY_PASSWORD_WRONG, says so, names the file', async () => {
    const key = await parsePrivateKey(encryptedPem, 'k.key', PASSWORD);
    const e = await expectKeyError(
      'KEY_PASSWORD_WRONG',
      () => parsePrivateKey(encryptedPem, 'team/cosign.key', 'not-the-password'),
      [...secretsOf(encryptedPem, key.privateKey), 'not-the-password'],
      'team/cosign.key',
    );
    assert.match(e.message, /password does not decrypt/);
    assert.equal(e.exitCode, 2);
  });

  test('no password for an encrypted key: KEY_PASSWORD_REQUIRED', async () => {
    await expectKeyError(
      'KEY_PASSWORD_REQUIRED',
      () => parsePrivateKey(encryptedPem, 'k.key'),
      secretsOf(encryptedPem, undefined),
      'k.key',
    );
  });

  test('a flipped ciphertext byte fails authentication like a wrong password (secretbox cannot tell them apart)', async () => {
    const bad = replaceBody(encryptedPem, (d) => {
      const c = Buffer.from(d.ciphertext, 'base64');
      c[40] = (c[40] ?? 0) ^ 1;
      d.ciphertext = c.toString('base64');
    });
    await expectKeyError(
      'KEY_PASSWORD_WRONG',
      () => parsePrivateKey(bad, 'k.key', PASSWORD),
      secretsOf(bad, undefined),
    );
  });

  const corruptions: [string, (pem: string) => string][] = [
    ['damaged base64 in the PEM body', (p) => p.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!')],
    ['a truncated file (no END line)', (p) => p.slice(0, p.indexOf('-----END'))],
    ['an empty file', () => ''],
    [
      'a body that is not JSON',
      () => encodePem('ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from('not json at all')),
    ],
    [
      'an unknown kdf',
      (p) =>
        replaceBody(p, (d) => {
          d.kdf.name = 'pbkdf2';
        }),
    ],
    [
      'an unknown cipher',
      (p) =>
        replaceBody(p, (d) => {
          d.cipher.name = 'aes-gcm';
        }),
    ],
    [
      'scrypt parameters cosign refuses (N=2^20 would be a memory bomb)',
      (p) =>
        replaceBody(p, (d) => {
          d.kdf.params.N = 1048576;
        }),
    ],
    [
      'a short nonce',
      (p) =>
        replaceBody(p, (d) => {
          d.cipher.nonce = 'AAAA';
        }),
    ],
    [
      'an unsupported PEM label',
      (p) => p.replaceAll('ENCRYPTED SIGSTORE PRIVATE KEY', 'OPENSSH PRIVATE KEY'),
    ],
  ];
  for (const [what, corrupt] of corruptions) {
    test(`${what}: KEY_INVALID naming the file`, async () => {
      const bad = corrupt(encryptedPem);
      await expectKeyError(
        'KEY_INVALID',
        () => parsePrivateKey(bad, 'broken.key', PASSWORD),
        secretsOf(encryptedPem, undefined),
        'broken.key',
      );
    });
  }

  test('an encrypted box that decrypts to something other than PKCS#8: KEY_INVALID', async () => {
    const pem = encodePem(
      'ENCRYPTED SIGSTORE PRIVATE KEY',
      await sealBox(Buffer.from('garbage-not-der'), Buffer.from(PASSWORD)),
    );
    await expectKeyError(
      'KEY_INVALID',
      () => parsePrivateKey(pem, 'odd.key', PASSWORD),
      [PASSWORD, 'garbage-not-der'],
      'odd.key',
    );
  });

  test('a damaged plain PKCS#8 key: KEY_INVALID without its bytes', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    der[10] = 0xff;
    const pem = encodePem('PRIVATE KEY', der.subarray(0, 60));
    await expectKeyError(
      'KEY_INVALID',
      () => parsePrivateKey(pem, 'plain.pem'),
      secretsOf(pem, privateKey),
      'plain.pem',
    );
  });

  test('other curves and algorithms: KEY_INVALID saying kiln signs with ECDSA P-256 only', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    for (const k of [p384, rsa]) {
      const pem = k.export({ format: 'pem', type: 'pkcs8' }) as string;
      const e = await expectKeyError(
        'KEY_INVALID',
        () => parsePrivateKey(pem, 'other.pem'),
        secretsOf(pem, k),
        'other.pem',
      );
      assert.match(e.message, /P-256 only/);
    }
  });

  test('an OpenSSL-encrypted legacy PEM: KEY_INVALID with the conversion hint', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({
      format: 'pem',
      type: 'sec1',
      cipher: 'aes-256-cbc',
      passphrase: PASSWORD,
    }) as string;
    const e = await expectKeyError(
      'KEY_INVALID',
      () => parsePrivateKey(pem, 'legacy.pem', PASSWORD),
      secretsOf(pem, privateKey),
    );
    assert.match(e.hint ?? '', /openssl pkcs8/);
  });

  test('a public key where the private key belongs, and the reverse: KEY_INVALID saying which file is needed', async () => {
    const e1 = await expectKeyError('KEY_INVALID', () => parsePrivateKey(publicPem, 'cosign.pub', PASSWORD), [
      PASSWORD,
    ]);
    assert.match(e1.message, /public key; signing needs the private key/);
    const e2 = await expectKeyError(
      'KEY_INVALID',
      async () => parsePublicKey(encryptedPem, 'cosign.key'),
      secretsOf(encryptedPem, undefined),
    );
    assert.match(e2.message, /private key; verifying needs the public key/);
  });

  test('a missing key file: KEY_INVALID naming it', async () => {
    const missing = join(dir.path, 'nope.key');
    const e = await expectKeyError(
      'KEY_INVALID',
      () => loadPrivateKey(missing, PASSWORD),
      [PASSWORD],
      missing,
    );
    assert.match(e.message, /ENOENT/);
    await expectKeyError('KEY_INVALID', () => loadPublicKey(missing), [], missing);
  });
});

describe('writing key pairs', () => {
  test('writeKeyPair writes P.key (0600, encrypted) and P.pub that load back as a pair', async () => {
    const prefix = join(dir.path, 'pair');
    const w = await writeKeyPair(prefix, PASSWORD);
    assert.equal(w.privateKeyPath, `${prefix}.key`);
    assert.equal((await stat(w.privateKeyPath)).mode & 0o777, 0o600);
    const key = await loadPrivateKey(w.privateKeyPath, PASSWORD);
    const pub = await loadPublicKey(w.publicKeyPath);
    assert.equal(verifyBytes(pub, Buffer.from('m'), signBytes(key, Buffer.from('m'))), true);
    assert.match(
      await readFile(w.privateKeyPath, 'utf8'),
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/,
    );
  });

  test('an existing key is never overwritten (KEY_EXISTS, exit 2); --force replaces it with a 0600 file', async () => {
    const prefix = join(dir.path, 'keep');
    await writeFile(`${prefix}.key`, 'precious', { mode: 0o644 });
    const e = await expectKeyError(
      'KEY_EXISTS',
      () => writeKeyPair(prefix, PASSWORD),
      [PASSWORD],
      `${prefix}.key`,
    );
    assert.equal(e.exitCode, 2);
    assert.equal(await readFile(`${prefix}.key`, 'utf8'), 'precious');
    await writeKeyPair(prefix, PASSWORD, { force: true });
    assert.equal((await stat(`${prefix}.key`)).mode & 0o777, 0o600);
    await loadPrivateKey(`${prefix}.key`, PASSWORD);
  });

  test('an existing public key alone also blocks, leaving no half-written pair', async () => {
    const prefix = join(dir.path, 'halfpub');
    await writeFile(`${prefix}.pub`, 'someone else');
    await expectKeyError('KEY_EXISTS', () => writeKeyPair(prefix, PASSWORD), [PASSWORD]);
    await assert.rejects(stat(`${prefix}.key`), { code: 'ENOENT' });
  });

  test('a directory that does not exist: KEY_WRITE_FAILED (usage) naming the path', async () => {
    await mkdir(join(dir.path, 'exists'), { recursive: true });
    const prefix = join(dir.path, 'no-such-dir', 'k');
    const e = await expectKeyError(
      'KEY_WRITE_FAILED',
      () => writeKeyPair(prefix, PASSWORD),
      [PASSWORD],
      `${prefix}.key`,
    );
    assert.equal(e.exitCode, 2);
  });
});
