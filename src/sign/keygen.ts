// Writing a key pair in cosign's format (what `cosign generate-key-pair` writes: pkg/cosign/keys.go
// marshalKeyPair): P-256 key, PKCS#8 DER sealed by encrypted.ts, PEM `ENCRYPTED SIGSTORE PRIVATE
// KEY`; public key PEM `PUBLIC KEY` (SPKI).
import { generateKeyPairSync } from 'node:crypto';
import { lstat, open, rm } from 'node:fs/promises';
import { KilnError } from '../errors.ts';
import { sealBox } from './encrypted.ts';
import { type Password, SIGSTORE_PRIVATE_PEM } from './keys.ts';
import { encodePem } from './pem.ts';

export interface KeyPairPem {
  privatePem: string;
  publicPem: string;
}

export async function generateKeyPair(password: Password): Promise<KeyPairPem> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  try {
    const sealed = await sealBox(der, pw);
    return {
      privatePem: encodePem(SIGSTORE_PRIVATE_PEM, sealed),
      publicPem: encodePem('PUBLIC KEY', publicKey.export({ format: 'der', type: 'spki' })),
    };
  } finally {
    der.fill(0);
  }
}

export interface WrittenKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function keyExists(path: string): KilnError {
  return new KilnError('KEY_EXISTS', `${path} already exists; kiln never overwrites a key silently`, {
    kind: 'usage',
    hint: 'choose another --output-key-prefix, or pass --force to replace the key pair',
    details: { file: path },
  });
}

/** Create `path` (never following or reusing an existing file) with `mode`, and write `text`. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    if (code === 'EEXIST') throw keyExists(path);
    const usage = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES';
    throw new KilnError('KEY_WRITE_FAILED', `cannot create ${path} (${code})`, {
      kind: usage ? 'usage' : 'failed',
      hint: 'check that the directory exists and is writable',
      details: { file: path, code },
    });
  }
  try {
    await fh.writeFile(text);
    // open()'s mode is filtered by the umask; make the private key's 0600 exact either way.
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/**
 * Generate and write `<prefix>.key` (0600) and `<prefix>.pub`. Refuses existing files (KEY_EXISTS)
 * unless `force`; with force the old files are removed first so the new key never inherits a
 * looser mode or a symlink.
 */
export async function writeKeyPair(
  prefix: string,
  password: Password,
  opts: { force?: boolean } = {},
): Promise<WrittenKeyPair> {
  const privateKeyPath = `${prefix}.key`;
  const publicKeyPath = `${prefix}.pub`;
  for (const p of [privateKeyPath, publicKeyPath]) {
    if (!(await exists(p))) continue;
    if (!opts.force) throw keyExists(p);
    await rm(p, { force: true }).catch((e: NodeJS.ErrnoException) => {
      throw new KilnError('KEY_WRITE_FAILED', `cannot replace ${p} (${e.code ?? 'unknown error'})`, {
        kind: 'usage',
        hint: 'remove it yourself, or choose another --output-key-prefix',
        details: { file: p },
      });
    });
  }
  const pair = await generateKeyPair(password);
  await writeNew(privateKeyPath, pair.privatePem, 0o600);
  try {
    await writeNew(publicKeyPath, pair.publicPem, 0o644);
  } catch (e) {
    // Half a key pair is worse than none: a private key without its public half cannot be used.
    await rm(privateKeyPath, { force: true });
    throw e;
  }
  return { privateKeyPath, publicKeyPath };
}
