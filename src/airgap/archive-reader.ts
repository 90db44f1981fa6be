// Reading an air-gap archive in place (no unpacking): the tar's table of contents by seeking
// (oci/layout/tar-scan.ts), kiln-export.json checked against its checksum, every object it
// names present with the right size, and each image's repository as an ImageSource whose
// manifests are hashed before use and whose blobs are verified as they stream
// (DigestVerifier: a changed byte fails the stream, naming the blob).
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { KilnError } from '../errors.ts';
import { type Digest, isDigest, sha256Digest } from '../oci/digest.ts';
import { REF_NAME } from '../oci/layout/layout.ts';
import { scanTar, type TarEntry } from '../oci/layout/tar-scan.ts';
import { MT } from '../oci/mediatypes.ts';
import { DigestVerifier } from '../oci/remote/verify.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { Descriptor, Index } from '../oci/types.ts';
import { blobPath, type ExportIndex, ExportIndexSchema, INDEX_FILE, INDEX_SUM_FILE } from './index-file.ts';

const refused = (code: string, file: string, problem: string, hint: string): KilnError =>
  new KilnError(code, `archive ${file}: ${problem}`, { kind: 'usage', hint, details: { file } });

const RECREATE = 'export it again (kiln export ... --to FILE.tar) and carry the whole file over';

export class ArchiveReader {
  readonly file: string;
  readonly index: ExportIndex;
  private readonly fh: FileHandle;
  private readonly entries: Map<string, TarEntry>;
  private readonly refs: Map<string, Digest>;

  private constructor(
    file: string,
    fh: FileHandle,
    entries: Map<string, TarEntry>,
    index: ExportIndex,
    refs: Map<string, Digest>,
  ) {
    this.file = file;
    this.fh = fh;
    this.entries = entries;
    this.index = index;
    this.refs = refs;
  }

  static async open(file: string): Promise<ArchiveReader> {
    const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
      throw refused('ARCHIVE_UNREADABLE', file, `cannot be read (${e.code ?? e.message})`, 'check the path');
    });
    try {
      const toc = await scanTar(fh);
      const need = (name: string): TarEntry => {
        const e = toc.entries.get(name);
        if (e) return e;
        throw refused(
          'ARCHIVE_TRUNCATED',
          file,
          `${name} is missing${toc.problem ? ` (${toc.problem})` : ''}`,
          RECREATE,
        );
      };
      const idx = await readEntry(fh, need(INDEX_FILE));
      const sum = (await readEntry(fh, need(INDEX_SUM_FILE))).toString('utf8').split(/\s+/)[0];
      if (sum !== sha256Digest(idx)) {
        throw refused('ARCHIVE_CORRUPT', file, `${INDEX_FILE} does not match ${INDEX_SUM_FILE}`, RECREATE);
      }
      if (!toc.complete) throw refused('ARCHIVE_TRUNCATED', file, toc.problem ?? 'incomplete', RECREATE);
      const parsed = ExportIndexSchema.safeParse(JSON.parse(idx.toString('utf8')));
      if (!parsed.success) {
        throw refused(
          'ARCHIVE_CORRUPT',
          file,
          `${INDEX_FILE} is not a kiln export index (${parsed.error.issues[0]?.message})`,
          RECREATE,
        );
      }
      const index = parsed.data;
      // Every object the index names must be there with its size (a cut or edited archive stops here).
      const sized = [...index.blobs, ...index.images.flatMap((i) => [...i.manifests, ...i.referrers])];
      for (const o of sized) {
        const e = toc.entries.get(blobPath(o.digest));
        if (!e) throw refused('ARCHIVE_TRUNCATED', file, `object ${o.digest} is missing`, RECREATE);
        if (e.size !== o.size) {
          throw refused(
            'ARCHIVE_CORRUPT',
            file,
            `object ${o.digest} is ${e.size} bytes, the index says ${o.size}`,
            RECREATE,
          );
        }
      }
      const layout = JSON.parse((await readEntry(fh, need('index.json'))).toString('utf8')) as Index;
      const refs = new Map<string, Digest>();
      for (const m of layout.manifests ?? []) {
        const name = m.annotations?.[REF_NAME];
        if (name) refs.set(name, m.digest);
      }
      return new ArchiveReader(file, fh, toc.entries, index, refs);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** An exported repository as an ImageSource: tags are `<repository>:<tag>` refs of the layout. */
  repository(repository: string): ImageSource {
    const name = `${this.file}#${repository}`;
    const blobMissing = (d: Digest) =>
      refused('ARCHIVE_TRUNCATED', this.file, `object ${d} of ${repository} is missing`, RECREATE);
    const entry = (d: Digest): TarEntry => {
      const e = this.entries.get(blobPath(d));
      if (!e) throw blobMissing(d);
      return e;
    };
    const readBlob = async (desc: Descriptor, maxBytes = 16 << 20): Promise<Buffer> => {
      const e = entry(desc.digest);
      if (e.size > maxBytes)
        throw refused('ARCHIVE_CORRUPT', this.file, `object ${desc.digest} is ${e.size} bytes`, RECREATE);
      const bytes = await readEntry(this.fh, e);
      if (sha256Digest(bytes) !== desc.digest) {
        throw refused(
          'ARCHIVE_CORRUPT',
          this.file,
          `object ${desc.digest} of ${repository} was altered (its bytes hash to ${sha256Digest(bytes)})`,
          RECREATE,
        );
      }
      return bytes;
    };
    return {
      name,
      getManifest: async (ref: string): Promise<ManifestBytes> => {
        const digest = isDigest(ref) ? ref : this.refs.get(`${repository}:${ref}`);
        if (!digest || !this.entries.has(blobPath(digest))) {
          throw new KilnError('MANIFEST_NOT_FOUND', `${name}: no manifest ${ref}`);
        }
        const bytes = await readBlob({ mediaType: '', digest, size: 0 }, 4 << 20);
        const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? MT.ociManifest;
        return { bytes, mediaType: mt, digest };
      },
      readBlob,
      openBlob: async (desc: Descriptor): Promise<Readable> => {
        const e = entry(desc.digest);
        const what = `archive ${this.file}: object ${desc.digest} of ${repository}`;
        const raw =
          e.size === 0
            ? Readable.from([])
            : createReadStream(this.file, {
                start: e.offset,
                end: e.offset + e.size - 1,
                highWaterMark: 1 << 20,
              });
        return pipeline(raw, new DigestVerifier(desc.digest, what, desc.size), () => {});
      },
    };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readEntry(fh: FileHandle, e: TarEntry): Promise<Buffer> {
  const b = Buffer.alloc(e.size);
  if (e.size > 0) await fh.read(b, 0, e.size, e.offset);
  return b;
}
