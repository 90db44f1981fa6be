import { pipeline, type Readable } from 'node:stream';
import { type Digest, HashingStream, type StreamDigest } from '../digest.ts';
import type { Descriptor } from '../types.ts';
import { type Compression, compressor } from './compress.ts';
import { type TarFile, type TarFileResult, tarStream } from './tar.ts';

export interface LayerOptions {
  mtime: number;
  compression: Compression;
  mediaType: string;
}

export interface BuiltLayer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar: what `rootfs.diff_ids` must hold (containerd checks it). */
  diffId: Digest;
  files: TarFileResult[];
}

export interface LayerStream {
  /** Pull this (once) into a blob sink; model bytes flow through with backpressure, never buffered. */
  stream: Readable;
  /** The hash of exactly what `stream` emits (the blob digest), for a store not to hash it again. */
  digester: StreamDigest;
  /** Valid after `stream` has ended. */
  result(): BuiltLayer;
}

/** tar (hashed as it is written: diff_id) -> compress -> hash (blob digest), in one streaming pass. */
export function buildLayer(files: readonly TarFile[], opts: LayerOptions): LayerStream {
  const done: TarFileResult[] = [];
  const tar = tarStream(files, { mtime: opts.mtime }, (f) => done.push(f));
  const stages = compressor(opts.compression);
  const compressed = stages.length > 0 ? new HashingStream() : undefined;
  const blob: StreamDigest = compressed ?? tar; // uncompressed: the blob is the tar
  // pipeline() destroys every stage on error; the consumer of the tail sees the first error.
  const tail = compressed ? pipeline([tar.stream, ...stages, compressed], () => {}) : tar.stream;
  return {
    stream: tail as unknown as Readable,
    digester: blob,
    result() {
      return {
        descriptor: { mediaType: opts.mediaType, digest: blob.digest(), size: blob.size },
        diffId: tar.digest(),
        files: done,
      };
    },
  };
}
