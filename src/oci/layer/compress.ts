import type { Transform } from 'node:stream';
import { constants, createZstdCompress } from 'node:zlib';
import { type MediaFamily, MT } from '../mediatypes.ts';
import { ParallelGzip } from './pgzip.ts';

// Compressors for layer blobs. Deterministic for a given Node/zlib/zstd build: node's gzip header
// has mtime 0 and a fixed OS byte, and no file name. Measured on weights (FIELD-NOTES): gzip
// level 1 ~55 MB/s saving ~7% (~140 MB/s per core for binary blocks with Z_RLE, pgzip.ts), zstd
// level 1 ~830 MB/s saving the same, none ~ the network's speed.

/** Layer compression (the same values as kiln.yaml `build.compression`; oci/ knows nothing of config). */
export type Compression = 'gzip' | 'zstd' | 'none';

export function compressor(c: Compression): Transform | undefined {
  switch (c) {
    case 'gzip':
      // Level 1: on model weights gzip 6 buys nothing over gzip 1 (FIELD-NOTES) and costs time.
      // Compressed block-parallel (pgzip.ts): gzip is otherwise the slowest stage of a bake.
      return new ParallelGzip({ level: 1 });
    case 'zstd':
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1 }, chunkSize: 1 << 20 });
    case 'none':
      return undefined;
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
