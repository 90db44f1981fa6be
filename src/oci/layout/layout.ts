import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KilnError } from '../../errors.ts';
import { type Digest, digestHex, hashedOnTheWay, isDigest, sha256Digest } from '../digest.ts';
import { MT } from '../mediatypes.ts';
import type { BlobStreamOptions, ImageSource, ImageTarget, ManifestBytes } from '../store.ts';
import { MAX_CONFIG_BYTES } from '../store.ts';
import type { Descriptor, Index } from '../types.ts';
import { ensureDir, fsError, removeCreated, sweepStale } from './dirs.ts';

// OCI image layout (image-spec v1.1 `image-layout.md`): `oci-layout`, `index.json`, and
// content-addressed `blobs/sha256/<hex>`. Tags are `org.opencontainers.image.ref.name`
// annotations on index.json entries (`annotations.md`), as skopeo, umoci and crane write them.

export const REF_NAME = 'org.opencontainers.image.ref.name';

export class OciLayout implements ImageTarget {
  readonly dir: string;
  readonly name: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.name = `oci:${dir}`;
  }

  /** Open a layout; with `create`, make the directory and its skeleton if missing. */
  static async open(dir: string, opts: { create: boolean }): Promise<OciLayout> {
    const abs = resolve(dir);
    const layout = new OciLayout(abs);
    const marker = join(abs, 'oci-layout');
    if (await exists(marker)) {
      if (opts.create) await layout.sweep(); // a writer: clear what a killed run left behind
      return layout;
    }
    if (!opts.create) {
      throw new KilnError('LAYOUT_NOT_FOUND', `${abs} is not an OCI image layout (no oci-layout file)`, {
        kind: 'usage',
        hint: 'point oci: at a directory written by kiln, skopeo, umoci or crane',
      });
    }
    const what = `creating the OCI layout ${abs}`;
    const created = await ensureDir(join(abs, 'blobs', 'sha256'), what);
    try {
      if (!(await exists(join(abs, 'index.json'))))
        await layout.writeIndex({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
      await writeFile(marker, `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
    } catch (e) {
      await removeCreated(created);
      throw fsError(e, what);
    }
    layout.created = created;
    return layout;
  }

  /** Folders this process created for the layout: removed by abort() when no image was indexed. */
  private created: string[] = [];

  /** Remove temp blobs an interrupted or killed kiln left (pid no longer running). */
  async sweep(): Promise<string[]> {
    return sweepStale(join(this.dir, 'blobs', 'sha256'), /^\.tmp-(\d+)-[0-9a-f]+$/);
  }

  /**
   * A failed bake into a layout it created leaves no folder behind, as long as no image has been
   * indexed there (another bake in this process may be writing to the same new layout).
   */
  async abort(): Promise<void> {
    await Promise.all([...this.inflight].map((f) => rm(f, { force: true })));
    if (this.created.length === 0) return;
    const index = await this.readIndex().catch(() => undefined);
    if (!index || index.manifests.length === 0) await removeCreated(this.created);
  }

  private readonly inflight = new Set<string>();

  pinned(digest: Digest): string {
    return `${this.name}@${digest}`;
  }

  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', digest.slice(0, digest.indexOf(':')), digestHex(digest));
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    if (!(await this.hasBlob(desc.digest))) throw blobMissing(this.name, desc.digest);
    return createReadStream(this.blobPath(desc.digest), { highWaterMark: 1 << 20 });
  }

  async readBlob(desc: Descriptor, maxBytes = MAX_CONFIG_BYTES): Promise<Buffer> {
    const path = this.blobPath(desc.digest);
    const st = await stat(path).catch(() => undefined);
    if (!st) throw blobMissing(this.name, desc.digest);
    if (st.size > maxBytes)
      throw new KilnError(
        'BLOB_TOO_LARGE',
        `${this.name}: blob ${desc.digest} is ${st.size} bytes, over ${maxBytes}`,
      );
    const bytes = await readFile(path);
    if (sha256Digest(bytes) !== desc.digest) {
      throw new KilnError(
        'DIGEST_MISMATCH',
        `${this.name}: blob ${desc.digest} is corrupt (its content hashes differently)`,
        {
          hint: 'delete the layout directory and bake again',
        },
      );
    }
    return bytes;
  }

  async copyBlob(desc: Descriptor, from: ImageSource): Promise<void> {
    if (await this.hasBlob(desc.digest)) return;
    const got = await this.putBlobStream(await from.openBlob(desc));
    if (got.digest !== desc.digest) {
      throw new KilnError(
        'DIGEST_MISMATCH',
        `blob ${desc.digest} from ${from.name} arrived as ${got.digest}`,
        {
          hint: 'the source is corrupt or changed mid-copy; try again',
        },
      );
    }
  }

  async putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    if (!(await this.hasBlob(digest))) {
      await atomicWrite(this.blobPath(digest), bytes).catch((e: unknown) => {
        throw fsError(e, `writing a blob into ${this.name}`);
      });
    }
    return { mediaType, digest, size: bytes.length };
  }

  async putBlobStream(
    body: Readable,
    opts: BlobStreamOptions = {},
  ): Promise<{ digest: Digest; size: number }> {
    // Stream straight into the blob directory under a temporary name, then rename to the digest:
    // the final copy, not a second one, and never a half-written blob under a real digest.
    // The pid in the name lets the next run remove it if this process is killed (sweep()).
    const tmp = join(this.dir, 'blobs', 'sha256', `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
    // A body that hashes itself (the layer builder's last stage) is not hashed a second time.
    const { stream, hash } = hashedOnTheWay(body, opts.hashedBy);
    this.inflight.add(tmp);
    try {
      // opts.signal is not needed here: the bake stops the stream itself (an error ends this pipeline).
      await pipeline(stream, createWriteStream(tmp));
      const digest = hash.digest();
      await rename(tmp, this.blobPath(digest));
      return { digest, size: hash.size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw fsError(e, `writing a blob into ${this.name}`);
    } finally {
      this.inflight.delete(tmp);
    }
  }

  async putManifest(manifest: ManifestBytes, tag?: string): Promise<void> {
    await this.putBlob(manifest.bytes, manifest.mediaType);
    await withIndexLock(this.dir, () => this.addToIndex(manifest, tag));
  }

  private async addToIndex(manifest: ManifestBytes, tag: string | undefined): Promise<void> {
    const index = await this.readIndex();
    const desc: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
    };
    if (tag) desc.annotations = { [REF_NAME]: tag };
    const untaggedSame = (m: Descriptor): boolean =>
      m.digest === manifest.digest && !m.annotations?.[REF_NAME];
    let manifests: Descriptor[];
    if (tag) {
      // The tag now names this digest (callers enforce immutability first); an untagged entry
      // for the same digest is redundant.
      manifests = [
        ...index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag && !untaggedSame(m)),
        desc,
      ];
    } else if (!index.manifests.some((m) => m.digest === manifest.digest)) {
      manifests = [...index.manifests, desc];
    } else {
      return;
    }
    await this.writeIndex({ ...index, manifests });
  }

  async resolveTag(tag: string): Promise<Digest | undefined> {
    const index = await this.readIndex();
    return index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)?.digest;
  }

  async getManifest(ref: string): Promise<ManifestBytes> {
    const index = await this.readIndex();
    const entry = isDigest(ref)
      ? index.manifests.find((m) => m.digest === ref)
      : index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    const digest = entry?.digest ?? (isDigest(ref) ? ref : undefined);
    if (!digest || !(await this.hasBlob(digest))) {
      throw new KilnError(
        'MANIFEST_NOT_FOUND',
        `${this.name}: no image ${isDigest(ref) ? 'with digest' : 'tagged'} ${ref}`,
        {
          kind: 'usage',
          hint: `list what the layout holds: cat ${join(this.dir, 'index.json')}`,
        },
      );
    }
    const bytes = await this.readBlob({ mediaType: '', digest, size: 0 });
    const mediaType =
      entry?.mediaType ??
      (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ??
      MT.ociManifest;
    return { bytes, mediaType, digest };
  }

  async readIndex(): Promise<Index> {
    return JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as Index;
  }

  async close(): Promise<void> {}

  private async writeIndex(index: Index): Promise<void> {
    await atomicWrite(join(this.dir, 'index.json'), Buffer.from(`${JSON.stringify(index)}\n`));
  }
}

/**
 * index.json is read, changed and rewritten; `kiln serve` promotes several models at once into
 * the same default layout, so updates to one directory are serialised here (within a process;
 * two kiln processes writing one layout at the same moment are not supported).
 */
const indexLocks = new Map<string, Promise<void>>();

async function withIndexLock(dir: string, fn: () => Promise<void>): Promise<void> {
  const run = (indexLocks.get(dir) ?? Promise.resolve()).then(fn);
  const tail = run.catch(() => {});
  indexLocks.set(dir, tail);
  try {
    await run;
  } finally {
    if (indexLocks.get(dir) === tail) indexLocks.delete(dir);
  }
}

/** `oci:DIR`, `oci:DIR:TAG`, `oci:DIR@sha256:...` (skopeo's `oci:` transport syntax). */
export function parseLayoutRef(spec: string): { dir: string; ref: string | undefined } {
  const body = spec.replace(/^oci:/, '');
  const at = body.lastIndexOf('@');
  if (at > 0 && isDigest(body.slice(at + 1))) return { dir: body.slice(0, at), ref: body.slice(at + 1) };
  const colon = body.lastIndexOf(':');
  if (colon > body.lastIndexOf('/') && colon > 0)
    return { dir: body.slice(0, colon), ref: body.slice(colon + 1) };
  return { dir: body, ref: undefined };
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

function blobMissing(name: string, digest: Digest): KilnError {
  return new KilnError('BLOB_NOT_FOUND', `${name}: blob ${digest} is missing`, {
    hint: 'the layout is incomplete; copy or bake the image into it again',
  });
}
