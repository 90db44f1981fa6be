// The real cosign (v2.6.5, `scripts/setup go`) for interop tests, tiny images to sign, and a
// scan for key material in everything a test can see (files kiln wrote, registry storage, output).
//
// Flags that work against the registry rig (plain http on 127.0.0.1): none beyond the key ones.
// go-containerregistry speaks http to loopback and RFC 1918 hosts by itself; other plain-http
// registries need --allow-http-registry (and --allow-insecure-registry for bad TLS). cosign
// v2.6.5 writes the classic `.sig`/`.att` tags by default (--new-bundle-format=false,
// --use-signing-config=false are the defaults); `--tlog-upload=false --yes` keeps it offline.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from '../../src/oci/remote/client.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import { loadPrivateKey } from '../../src/sign/keys.ts';
import { toolPath } from './proc.ts';

export const COSIGN = toolPath('cosign');
/**
 * cosign v3.1.2 (`scripts/setup go` installs it as cosign3). Offline flags it needs with a key:
 * sign/attest `--use-signing-config=false --tlog-upload=false --yes` (the default signing config
 * comes from TUF, and --tlog-upload=false is refused next to it); verify `--insecure-ignore-tlog=true`.
 * It writes and reads Sigstore bundles as OCI referrers by default (--new-bundle-format=true).
 */
export const COSIGN3 = toolPath('cosign3');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('error', rej);
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

/** cosign with its own HOME and TUF root inside `dir` (no stray config or cache). */
export const cosignIn = (dir: string) => cosignBinaryIn(COSIGN, dir, 'tuf');

/** cosign v3 like cosignIn: own HOME and TUF root in `dir`. */
export const cosign3In = (dir: string) => cosignBinaryIn(COSIGN3, dir, 'tuf3');

function cosignBinaryIn(binary: string, dir: string, tuf: string) {
  return (args: string[], password = ''): Promise<Ran> =>
    exec(
      binary,
      args,
      { PATH: process.env['PATH'], HOME: dir, COSIGN_PASSWORD: password, TUF_ROOT: join(dir, tuf) },
      dir,
    );
}

/** `cosign verify` with a public key file, offline (no transparency log); `extra` flags go before the image. */
export function verifyArgs(pubKey: string, image: string, extra: readonly string[] = []): string[] {
  return ['verify', '--key', pubKey, '--insecure-ignore-tlog=true', ...extra, image];
}

/** `cosign verify-attestation` of kiln's SLSA provenance, the same way. */
export function verifyAttestationArgs(
  pubKey: string,
  image: string,
  extra: readonly string[] = [],
): string[] {
  return [
    'verify-attestation',
    '--key',
    pubKey,
    '--insecure-ignore-tlog=true',
    '--type',
    'slsaprovenance1',
    ...extra,
    image,
  ];
}

/**
 * A Sigstore trusted root with nothing in it, for cosign v2.6.3+ and v3.0.0-3.0.3 verifying a
 * bundle offline with a key: they switch to the bundle path when an image has a bundle and then
 * refuse to go on without a trusted root ("trusted root is required when using new bundle
 * format"); for a key it needs no content. Returns the file written in `dir`.
 */
export async function emptyTrustedRoot(dir: string): Promise<string> {
  const file = join(dir, 'empty-trusted-root.json');
  await writeFile(
    file,
    JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }),
  );
  return file;
}

export async function ok(r: Promise<Ran> | Ran, what = 'command'): Promise<Ran> {
  const out = await r;
  assert.equal(out.code, 0, `${what}: expected success, got ${out.code}:\n${out.stderr}\n${out.stdout}`);
  return out;
}

export async function fails(r: Promise<Ran> | Ran, what = 'command'): Promise<Ran> {
  const out = await r;
  assert.notEqual(out.code, 0, `${what}: expected a failure, got success:\n${out.stderr}\n${out.stdout}`);
  return out;
}

/** A one-layer image of random bytes (so every call has its own digest), tagged `tag`. */
export async function pushTinyImage(host: string, repo: string, tag: string): Promise<string> {
  const r = new RegistryRepository(new Registry(host), repo);
  const layer = await r.putBlob(randomBytes(64), 'application/vnd.oci.image.layer.v1.tar');
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const cfg = await r.putBlob(config, 'application/vnd.oci.image.config.v1+json');
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: cfg, layers: [layer] }));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as const;
  await r.putManifest({ bytes, mediaType, digest }, tag);
  return `${host}/${repo}@${digest}`;
}

/**
 * Every encoding of a private key that must never leave kiln: the raw P-256 scalar (bytes, hex,
 * base64, base64url), the unencrypted PKCS#8 PEM body lines, and the password.
 */
export async function keySecrets(keyFile: string, password: string): Promise<(string | Buffer)[]> {
  const key = await loadPrivateKey(keyFile, password);
  const d = Buffer.from(key.privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  assert.equal(d.length, 32);
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const lines = pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
  return [
    d,
    d.toString('hex'),
    d.toString('base64').replace(/=+$/, ''),
    d.toString('base64url'),
    ...lines,
    password,
  ];
}

async function filesUnder(path: string): Promise<string[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** Asserts no secret (string or bytes) occurs in any file under `paths` nor in `texts`. */
export async function assertNoSecrets(
  secrets: readonly (string | Buffer)[],
  paths: readonly string[],
  texts: readonly string[] = [],
): Promise<number> {
  let scanned = 0;
  for (const p of paths) {
    for (const f of await filesUnder(p)) {
      const bytes = await readFile(f);
      scanned++;
      for (const s of secrets) {
        assert.equal(bytes.indexOf(s), -1, `${f} contains a secret (${String(s).slice(0, 6)}...)`);
      }
    }
  }
  for (const t of texts) {
    for (const s of secrets) {
      if (typeof s !== 'string') continue; // raw bytes: files only
      assert.ok(!t.includes(s), `output contains a secret (${String(s).slice(0, 6)}...):\n${t}`);
    }
  }
  return scanned;
}
