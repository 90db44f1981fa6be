import type { Readable } from 'node:stream';
import { KilnError } from '../../errors.ts';
import type { Digest } from '../digest.ts';
import type { BlobStreamOptions, ImageSource, ImageTarget, ManifestBytes } from '../store.ts';
import { MAX_CONFIG_BYTES } from '../store.ts';
import type { Descriptor } from '../types.ts';
import type { Registry } from './client.ts';

/** One repository of a registry as an ImageSource/ImageTarget (the bake pipeline's view of `remote`). */
export class RegistryRepository implements ImageTarget {
  readonly registry: Registry;
  readonly repo: string;
  readonly name: string;
  /** Manifests this process already stored by digest: tagging one later needs only the tag PUT. */
  private readonly stored = new Set<Digest>();

  constructor(registry: Registry, repo: string) {
    this.registry = registry;
    this.repo = repo;
    this.name = `${registry.host}/${repo}`;
  }

  pinned(digest: Digest): string {
    return `${this.name}@${digest}`;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await this.registry.headBlob(this.repo, digest)) !== undefined;
  }

  openBlob(desc: Descriptor): Promise<Readable> {
    return this.registry.getBlob(this.repo, desc.digest, desc.size);
  }

  readBlob(desc: Descriptor, maxBytes = MAX_CONFIG_BYTES): Promise<Buffer> {
    return this.registry.getBlobBytes(this.repo, desc.digest, maxBytes);
  }

  async copyBlob(desc: Descriptor, from: ImageSource): Promise<void> {
    if (await this.hasBlob(desc.digest)) return;
    // Same registry: a cross-repository mount moves no bytes (distribution `spec.md` "Cross Repository Blob Mount").
    if (
      from instanceof RegistryRepository &&
      from.registry.host === this.registry.host &&
      from.repo !== this.repo
    ) {
      if (await this.registry.mountBlob(this.repo, desc.digest, from.repo)) return;
    }
    await this.registry.uploadBlobStream(this.repo, await from.openBlob(desc), {
      expected: { digest: desc.digest, size: desc.size },
    });
  }

  async putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const r = await this.registry.uploadBlob(this.repo, bytes);
    return { mediaType, digest: r.digest, size: r.size };
  }

  async putBlobStream(
    body: Readable,
    opts: BlobStreamOptions = {},
  ): Promise<{ digest: Digest; size: number }> {
    const r = await this.registry.uploadBlobStream(this.repo, body, opts);
    return { digest: r.digest, size: r.size };
  }

  async putManifest(manifest: ManifestBytes, tag?: string): Promise<void> {
    if (!this.stored.has(manifest.digest)) {
      await this.put(manifest, manifest.digest);
      this.stored.add(manifest.digest);
    }
    if (tag) await this.put(manifest, tag);
  }

  /** PUT by digest or tag; the registry must store exactly the bytes sent (Docker-Content-Digest). */
  private async put(manifest: ManifestBytes, ref: string): Promise<void> {
    const got = await this.registry.putManifest(this.repo, ref, manifest.bytes, manifest.mediaType);
    if (got !== manifest.digest) {
      throw new KilnError(
        'DIGEST_MISMATCH',
        `${this.name}:${ref} stored manifest ${manifest.digest} as ${got}`,
        {
          hint: 'the registry rewrote the manifest; check for a proxy or registry that converts manifests',
        },
      );
    }
  }

  async resolveTag(tag: string): Promise<Digest | undefined> {
    return (await this.registry.headManifest(this.repo, tag))?.digest;
  }

  getManifest(ref: string): Promise<ManifestBytes> {
    return this.registry.getManifest(this.repo, ref);
  }

  async close(): Promise<void> {}
}
