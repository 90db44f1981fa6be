// Writes OCI image layouts for the rig's base images with GNU tar + node:zlib, independently of
// kiln's own OCI code (the bases are what kiln's code is tested against, so they must not be made
// by it). https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface Layer {
  desc: Descriptor;
  /** sha256 of the uncompressed tar: what `rootfs.diff_ids` lists. */
  diffId: string;
}

/**
 * Tars `entries` (paths relative to `root`) into one gzip layer blob of the layout at `layoutDir`.
 * Entries are tarred in the given order; a `{ norecurse }` entry adds only the directory itself
 * (a parent like `usr` of a layer that holds just `usr/local`). Deterministic where GNU tar can be:
 * sorted names, numeric owners, no atime/ctime, and mtimes clamped to `mtime` when given. Never
 * clamp a tree holding Python: each .pyc records its source's mtime, and a changed mtime makes
 * Python recompile on every start (as uid 1000 it cannot even cache the result).
 */
export async function packLayer(
  layoutDir: string,
  root: string,
  entries: Array<string | { norecurse: string }>,
  mtime?: number,
): Promise<Layer> {
  const names: string[] = [];
  for (const e of entries) {
    if (typeof e === 'string') names.push('--recursion', e);
    else names.push('--no-recursion', e.norecurse);
  }
  const tar = spawn(
    'tar',
    [
      '--create',
      '--file=-',
      `--directory=${root}`,
      '--sort=name',
      '--format=pax',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      '--numeric-owner',
      ...(mtime === undefined ? [] : [`--mtime=@${mtime}`, '--clamp-mtime']),
      ...names,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number>((res) => tar.on('close', (code) => res(code ?? 1)));
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tap = (fn: (chunk: Buffer) => void) =>
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        fn(chunk);
        cb(null, chunk);
      },
    });
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  const tmp = join(layoutDir, 'blobs', 'sha256', `.tmp-${process.pid}-${Date.now()}`);
  await pipeline(
    tar.stdout,
    tap((c) => diff.update(c)),
    // gzip header mtime 0 (node writes none); level 6 is what docker/buildah use.
    createGzip({ level: 6 }),
    tap((c) => {
      blob.update(c);
      size += c.length;
    }),
    createWriteStream(tmp),
  );
  const code = await exited;
  if (code !== 0) throw new Error(`tar of ${root} exited ${code}: ${stderr}`);
  const digest = `sha256:${blob.digest('hex')}`;
  await rename(tmp, blobPath(layoutDir, digest));
  return { desc: { mediaType: MT_LAYER_GZIP, digest, size }, diffId: `sha256:${diff.digest('hex')}` };
}

/** Stores `value` as a compact JSON blob and returns its descriptor. */
export async function putJson(layoutDir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(blobPath(layoutDir, digest), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** Writes `oci-layout` and an `index.json` naming `top` as `org.opencontainers.image.ref.name`=`tag`. */
export async function finishLayout(layoutDir: string, top: Descriptor, tag = 'latest'): Promise<void> {
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { ...top, annotations: { ...top.annotations, 'org.opencontainers.image.ref.name': tag } };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}

/** The descriptor `index.json` of a layout names (the image or index a push sends). */
export async function layoutTop(layoutDir: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: Descriptor[];
  };
  const top = index.manifests[0];
  if (!top || index.manifests.length !== 1) throw new Error(`${layoutDir}: expected exactly one image`);
  return top;
}

export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

/** An OCI image manifest for `config` + `layers`. */
export function manifestOf(config: Descriptor, layers: Descriptor[]): object {
  return { schemaVersion: 2, mediaType: MT_MANIFEST, config, layers };
}
