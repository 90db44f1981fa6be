import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { KilnError } from '../../errors.ts';
import { classifySystemError } from '../../syserrors.ts';
import { type Digest, digestHex, hashedOnTheWay, sha256Digest } from '../digest.ts';
import { padding, ustarHeader } from '../layer/tar.ts';
import { MT } from '../mediatypes.ts';
import type { BlobStreamOptions, ImageSource, ImageTarget, ManifestBytes } from '../store.ts';
import type { Descriptor, Index } from '../types.ts';
import { sweepStale } from './dirs.ts';
import { REF_NAME } from './layout.ts';

// `oci-archive:FILE.tar`: an OCI image layout packed in one tar file, to carry into an air gap
// (skopeo's oci-archive transport reads it). Written in ONE pass without a temporary layout:
// a blob whose digest and size are known only at its end gets a placeholder header that is
// rewritten in place once the stream ends (a file, unlike a pipe, can seek back).
// The archive is written whole on every bake (FILE.tar.partial, renamed on success).

export class OciArchive implements ImageTarget {
  readonly name: string;
  readonly file: string;
  private readonly fh: FileHandle;
  private readonly partial: string;
  private offset = 0;
  private readonly blobs = new Set<string>();
  private readonly manifests: Descriptor[] = [];

  private constructor(file: string, partial: string, fh: FileHandle) {
    this.file = file;
    this.partial = partial;
    this.fh = fh;
    this.name = `oci-archive:${file}`;
  }

  static async create(file: string): Promise<OciArchive> {
    const abs = resolve(file);
    // The pid in the name lets the next run into the same folder remove it if this one is killed.
    const partial = join(
      dirname(abs),
      `.${basename(abs)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`,
    );
    const fh = await open(partial, 'w').catch((e: unknown) => {
      const sys = classifySystemError(e, `writing ${abs}`);
      throw new KilnError(
        sys?.code ?? 'ARCHIVE_UNWRITABLE',
        `cannot write ${abs}: ${sys?.message ?? (e as Error).message}`,
        {
          kind: 'usage',
          hint: sys?.hint ?? 'check that the directory exists and is writable',
          cause: e,
        },
      );
    });
    const escaped = basename(abs).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await sweepStale(dirname(abs), new RegExp(`^\\.${escaped}\\.(\\d+)-[0-9a-f]+\\.partial$`));
    return new OciArchive(abs, partial, fh);
  }

  pinned(digest: Digest): string {
    return `${this.name}@${digest}`;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return this.blobs.has(digest);
  }

  async putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    if (!this.blobs.has(digest)) {
      await this.writeEntry(blobName(digest), Buffer.from(bytes));
      this.blobs.add(digest);
    }
    return { mediaType, digest, size: bytes.length };
  }

  async copyBlob(desc: Descriptor, from: ImageSource): Promise<void> {
    if (this.blobs.has(desc.digest)) return;
    const got = await this.putBlobStream(await from.openBlob(desc));
    if (got.digest !== desc.digest) {
      throw new KilnError(
        'DIGEST_MISMATCH',
        `blob ${desc.digest} from ${from.name} arrived as ${got.digest}`,
      );
    }
  }

  async putBlobStream(
    body: Readable,
    opts: BlobStreamOptions = {},
  ): Promise<{ digest: Digest; size: number }> {
    const headerAt = this.offset;
    this.offset += 512; // placeholder, rewritten below
    const { stream, hash } = hashedOnTheWay(body, opts.hashedBy);
    // pipeline (not .pipe) so an error in the source reaches this loop instead of stalling it.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      await this.fh.write(chunk, 0, chunk.length, this.offset);
      this.offset += chunk.length;
    }
    const digest = hash.digest();
    const header = ustarHeader({
      name: blobName(digest),
      prefix: '',
      size: hash.size,
      mode: 0o644,
      type: '0',
      mtime: 0,
    });
    await this.fh.write(header, 0, 512, headerAt);
    await this.pad(hash.size);
    if (this.blobs.has(digest)) {
      // Already stored: drop the duplicate entry just written by rewinding over it.
      this.offset = headerAt;
      await this.fh.truncate(headerAt);
    }
    this.blobs.add(digest);
    return { digest, size: hash.size };
  }

  async putManifest(manifest: ManifestBytes, tag?: string): Promise<void> {
    await this.putBlob(manifest.bytes, manifest.mediaType);
    const desc: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
    };
    if (tag) desc.annotations = { [REF_NAME]: tag };
    if (tag || !this.manifests.some((m) => m.digest === manifest.digest)) this.manifests.push(desc);
  }

  /** A fresh archive holds no tags until this bake writes them. */
  async resolveTag(): Promise<Digest | undefined> {
    return undefined;
  }

  async getManifest(ref: string): Promise<ManifestBytes> {
    throw new KilnError(
      'MANIFEST_NOT_FOUND',
      `${this.name} is being written; it cannot be read yet (${ref})`,
    );
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    throw new KilnError(
      'BLOB_NOT_FOUND',
      `${this.name} is being written; it cannot be read yet (${desc.digest})`,
    );
  }

  async readBlob(desc: Descriptor): Promise<Buffer> {
    return this.openBlob(desc) as never;
  }

  async close(): Promise<void> {
    // Only the tagged (top-level) manifests belong in index.json; by-digest platform manifests are reachable from them.
    const tagged = this.manifests.filter((m) => m.annotations?.[REF_NAME]);
    const index: Index = {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: tagged.length > 0 ? tagged : this.manifests,
    };
    await this.writeEntry('oci-layout', Buffer.from(`${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`));
    await this.writeEntry('index.json', Buffer.from(`${JSON.stringify(index)}\n`));
    await this.fh.write(Buffer.alloc(1024), 0, 1024, this.offset);
    await this.fh.sync();
    await this.fh.close();
    await rename(this.partial, this.file);
  }

  /** Bytes written so far (the archive's size once closed). */
  get bytesWritten(): number {
    return this.offset + 1024;
  }

  /** A plain file beside the layout (kiln export's own index, manifests); names under 100 bytes. */
  async addFile(name: string, data: Buffer): Promise<void> {
    await this.writeEntry(name, data);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await rm(this.partial, { force: true });
  }

  private async writeEntry(name: string, data: Buffer): Promise<void> {
    const header = ustarHeader({ name, prefix: '', size: data.length, mode: 0o644, type: '0', mtime: 0 });
    await this.fh.write(header, 0, 512, this.offset);
    this.offset += 512;
    await this.fh.write(data, 0, data.length, this.offset);
    this.offset += data.length;
    await this.pad(data.length);
  }

  private async pad(size: number): Promise<void> {
    const n = padding(size);
    if (n > 0) await this.fh.write(Buffer.alloc(n), 0, n, this.offset);
    this.offset += n;
  }
}

const blobName = (d: Digest): string => `blobs/sha256/${digestHex(d)}`;
