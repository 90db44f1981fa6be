// One registry host, spoken to over its own Transport (so auth state and tokens are per host).
// The methods are thin: each lives in blobs.ts, upload.ts or manifests.ts as a function of the
// transport, which keeps those files small and testable on their own.
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.ts';
import { getBlob, getBlobBytes, headBlob, mountBlob } from './blobs.ts';
import { type FetchedManifest, getManifest, headManifest, putManifest } from './manifests.ts';
import { listTags } from './tags.ts';
import { Transport, type TransportOptions } from './transport.ts';
import { type StreamUploadOptions, type UploadResult, uploadBlob, uploadBlobStream } from './upload.ts';

export type RegistryOptions = TransportOptions;

export class Registry {
  readonly transport: Transport;

  /** `new Registry('127.0.0.1:5000')` or with options (credentials, insecure hosts, retry policy...). */
  constructor(opts: RegistryOptions | string) {
    this.transport = new Transport(typeof opts === 'string' ? { registry: opts } : opts);
  }

  get host(): string {
    return this.transport.registry;
  }

  headBlob(repo: string, digest: Digest): Promise<{ size: number } | undefined> {
    return headBlob(this.transport, repo, digest);
  }

  /** Streams the blob; the stream errors with DIGEST_MISMATCH at its end if the content is wrong. */
  getBlob(repo: string, digest: Digest, expectedSize?: number): Promise<Readable> {
    return getBlob(this.transport, repo, digest, expectedSize);
  }

  getBlobBytes(repo: string, digest: Digest, maxBytes?: number): Promise<Buffer> {
    return getBlobBytes(this.transport, repo, digest, maxBytes);
  }

  mountBlob(repo: string, digest: Digest, fromRepo: string): Promise<boolean> {
    return mountBlob(this.transport, repo, digest, fromRepo);
  }

  uploadBlob(repo: string, body: Uint8Array): Promise<UploadResult> {
    return uploadBlob(this.transport, repo, body);
  }

  uploadBlobStream(repo: string, source: Readable, opts?: StreamUploadOptions): Promise<UploadResult> {
    return uploadBlobStream(this.transport, repo, source, opts);
  }

  getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    return getManifest(this.transport, repo, ref);
  }

  headManifest(
    repo: string,
    ref: string,
  ): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    return headManifest(this.transport, repo, ref);
  }

  putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    return putManifest(this.transport, repo, ref, bytes, mediaType);
  }

  listTags(repo: string): Promise<string[]> {
    return listTags(this.transport, repo);
  }
}
