import type { Readable } from 'node:stream';
import type { Digest, StreamDigest } from './digest.ts';
import type { Descriptor } from './types.ts';

// The two transport-facing interfaces every stage after `image` works through. A registry
// repository, an OCI layout directory and an OCI archive all implement them, so one mutated
// image can be written to any of them (go-containerregistry's remote / layout split).

export interface ManifestBytes {
  /** The exact bytes: digests are computed over these, never over re-serialised JSON. */
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface ImageSource {
  /** For messages: `registry.example.com/ml/model` or `oci:/path/to/layout`. */
  readonly name: string;
  /** `ref` is a tag or a digest; throws KilnError MANIFEST_NOT_FOUND when absent. */
  getManifest(ref: string): Promise<ManifestBytes>;
  openBlob(desc: Descriptor): Promise<Readable>;
  /** Small blobs only (configs): refuses anything over `maxBytes`. */
  readBlob(desc: Descriptor, maxBytes?: number): Promise<Buffer>;
}

export interface ImageTarget extends ImageSource {
  /** The digest-pinned name users see and deploy: `host/repo@sha256:...`, `oci:DIR@sha256:...`. */
  pinned(digest: Digest): string;
  hasBlob(digest: Digest): Promise<boolean>;
  /** Ensure a blob with a known digest is present, copying (or mounting) it from `from`. */
  copyBlob(desc: Descriptor, from: ImageSource): Promise<void>;
  putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  /** Store a blob whose digest is known only once the stream ends (a freshly built layer). */
  putBlobStream(body: Readable, opts?: BlobStreamOptions): Promise<{ digest: Digest; size: number }>;
  /** Store a manifest by digest, and point `tag` at it when given. */
  putManifest(manifest: ManifestBytes, tag?: string): Promise<void>;
  /** The digest a tag points at, or undefined when the tag does not exist. */
  resolveTag(tag: string): Promise<Digest | undefined>;
  /** Flush and finish (an archive writes its index here); a no-op for registries and layouts. */
  close(): Promise<void>;
  /** Undo what a failed bake left behind where possible (an archive deletes its partial file). */
  abort?(): Promise<void>;
}

export interface BlobStreamOptions {
  signal?: AbortSignal | undefined;
  /**
   * Already hashing exactly the bytes of `body` (the layer builder's last stage, seen through
   * progress counters): the store takes the digest from it instead of hashing the blob again, at
   * ~1.3 GB/s a second of CPU per GiB it would otherwise spend on the bake's critical path.
   */
  hashedBy?: StreamDigest | undefined;
}

export const MAX_CONFIG_BYTES = 4 << 20;
