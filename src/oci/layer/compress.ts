import { Transform, type TransformCallback } from 'node:stream';
import { constants, createZstdCompress } from 'node:zlib';
import { type MediaFamily, MT } from '../mediatypes.ts';
import { ParallelGzip } from './pgzip.ts';

// Compressors for layer blobs. Deterministic for a given Node/zlib/zstd build: node's gzip header
// has mtime 0 and a fixed OS byte, and no file name. Measured on weights (FIELD-NOTES): gzip
// level 1 ~55 MB/s saving ~7% (~140 MB/s per core for binary blocks with Z_RLE, pgzip.ts), zstd
// level 1 ~830 MB/s saving the same, none ~ the network's speed.

/** Layer compression (the same values as kiln.yaml `build.compression`; oci/ knows nothing of config). */
export type Compression = 'gzip' | 'zstd' | 'none';

/** The stages that compress a layer, in order (none for `none`). */
export function compressor(c: Compression): Transform[] {
  switch (c) {
    case 'gzip':
      // Level 1: on model weights gzip 6 buys nothing over gzip 1 (FIELD-NOTES) and costs time.
      // Compressed block-parallel (pgzip.ts): gzip is otherwise the slowest stage of a bake.
      return [new ParallelGzip({ level: 1 })];
    case 'zstd':
      // Each write to node's zstd stream is its own hand-off to the thread pool: 64 KiB writes (a
      // socket read each) cost 1.4-1.7 CPU-s per GiB here, 1 MiB writes 0.7. In 1 GiB bakes, 4 of
      // 4 interleaved pairs were faster with the joining stage (6.6-7.5 s vs 7.0-8.8 s).
      // Its output stays in 64 KiB chunks: with 1 MiB ones, the few chunks queued in the stages
      // after it (hash, progress, the upload) lived across two young-generation collections and
      // were promoted, and V8 ran 18-112 mark-compacts per GiB to free them (`--trace-gc`), 1.5-3
      // CPU-s on the main thread and V8's marking threads; with 64 KiB chunks a 1 GiB bake ran
      // 1 mark-compact in each of 9 runs, 4.4-4.8 CPU-s instead of 5.0-7.5. (Longer bakes also
      // needed V8's old-generation limit raised: src/cli/main.ts.)
      return [
        new Coalesce(1 << 20),
        createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1 }, chunkSize: 64 << 10 }),
      ];
    case 'none':
      return [];
  }
}

/** Joins small chunks into ones of at least `size` bytes (one copy; the last may be shorter). */
export class Coalesce extends Transform {
  readonly #size: number;
  #parts: Buffer[] = [];
  #length = 0;

  constructor(size: number) {
    super();
    this.#size = size;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#parts.push(chunk);
    this.#length += chunk.length;
    if (this.#length >= this.#size) this.#emit();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.#length > 0) this.#emit();
    cb();
  }

  #emit(): void {
    const parts = this.#parts;
    this.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#length));
    this.#parts = [];
    this.#length = 0;
  }
}

/**
 * The layer media type for a compression, keeping the manifest's family (a Docker v2 manifest
 * with OCI layer types breaks skopeo/CRI-O). Docker's family has no zstd/uncompressed layer type,
 * so those force the OCI family: `undefined` tells the caller to convert the manifest.
 */
export function layerMediaType(c: Compression, family: MediaFamily): string | undefined {
  if (family === 'docker') return c === 'gzip' ? MT.dockerLayerGzip : undefined;
  return c === 'gzip' ? MT.ociLayerGzip : c === 'zstd' ? MT.ociLayerZstd : MT.ociLayer;
}
