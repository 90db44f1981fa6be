import { join, resolve } from 'node:path';
import { isKilnError, KilnError } from '../errors.ts';
import { writeFileAtomic } from '../kserve/manifest-file.ts';
import { type Logger, silentLogger } from '../log.ts';
import { pushReferrers } from '../oci/referrers.ts';
import type { Registry } from '../oci/remote/client.ts';
import { RegistryRepository } from '../oci/remote/repository.ts';
import { attestationTag, signatureTag } from '../sign/cosign-layers.ts';
import type { VerifyKey } from '../sign/keys.ts';
import { ArchiveReader } from './archive-reader.ts';
import { collectImage, referrerDescriptor } from './collect.ts';
import type { ExportedImage } from './index-file.ts';
import { isvcInputs, renderIsvcYaml } from './isvc.ts';
import { verifyEverything } from './verify-all.ts';

export interface ImportOptions {
  registry: Registry;
  /** Repository prefix in the new registry: `ml-airgap` makes `host/ml/iris` `REGISTRY/ml-airgap/ml/iris`. */
  prefix: string;
  key: VerifyKey;
  /** Where the rewritten InferenceService manifests go (`DIR/<namespace>/<name>.yaml`). */
  manifestsDir: string;
  now?: Date;
  log?: Logger;
}

export interface ImportedImage {
  reference: string;
  tags: string[];
  verified: { signature: string[]; attestations: string[] };
  inferenceService?: string | undefined;
}

/** `127.0.0.1:5000/ml/iris` -> `ml/iris`: the source repository without its registry host. */
export function repositoryPath(repository: string): string {
  const slash = repository.indexOf('/');
  const first = slash < 0 ? '' : repository.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost'
    ? repository.slice(slash + 1)
    : repository;
}

export async function importArchive(file: string, opts: ImportOptions): Promise<ImportedImage[]> {
  const log = opts.log ?? silentLogger;
  const reader = await ArchiveReader.open(file);
  try {
    const images = reader.index.images;
    // 1. Everything verifies inside the archive, or nothing is pushed.
    for (const image of images) {
      await asArchiveError(reader.file, () =>
        verifyEverything(reader.repository(image.repository), image.digest, opts.key),
      );
    }
    log.info(`${file}: ${images.length} image(s) verified with ${opts.key.source}; pushing`);
    const out: ImportedImage[] = [];
    for (const image of images) out.push(await importOne(reader, image, opts, log));
    return out;
  } finally {
    await reader.close();
  }
}

async function importOne(
  reader: ArchiveReader,
  image: ExportedImage,
  opts: ImportOptions,
  log: Logger,
): Promise<ImportedImage> {
  const src = reader.repository(image.repository);
  const destRepo = `${opts.prefix.replace(/\/+$/, '')}/${repositoryPath(image.repository)}`;
  const target = new RegistryRepository(opts.registry, destRepo);
  const c = await collectImage(src, image.digest);
  // 2. Content, then manifests by digest, then the signatures' tags.
  await asArchiveError(reader.file, async () => {
    for (const b of c.blobs) await target.copyBlob(b, src);
  });
  for (const m of c.manifests) await target.putManifest(m);
  for (const m of [c.signature, c.attestation]) if (m) await target.putManifest(m);
  for (const r of c.referrers) for (const m of r.manifests.slice(0, -1)) await target.putManifest(m);
  if (c.referrers.length > 0) {
    const tops = c.referrers.map((r) => r.manifests[r.manifests.length - 1]!);
    await pushReferrers(
      target,
      image.digest,
      tops.map((m) => ({ manifest: m, descriptor: referrerDescriptor(m) })),
      log,
    );
  }
  if (c.signature) await target.putManifest(c.signature, signatureTag(image.digest));
  if (c.attestation) await target.putManifest(c.attestation, attestationTag(image.digest));
  // 3. Verified again where it now lives.
  const verified = await verifyEverything(target, image.digest, opts.key);
  // 4. Tags last, then the manifests for the cluster.
  for (const tag of image.tags) await target.putManifest(c.top, tag);
  const reference = target.pinned(image.digest);
  let isvcFile: string | undefined;
  if (image.inferenceService) {
    const inputs = await isvcInputs(target, c.top);
    if (inputs) {
      const ref = { namespace: image.inferenceService.namespace, name: image.inferenceService.name };
      isvcFile = join(resolve(opts.manifestsDir), ref.namespace, `${ref.name}.yaml`);
      await writeFileAtomic(isvcFile, renderIsvcYaml(ref, reference, inputs, opts.now ?? new Date()));
    }
  }
  log.info(`imported ${reference}${image.tags.length ? ` (tags ${image.tags.join(', ')})` : ''}`);
  return { reference, tags: image.tags, verified, inferenceService: isvcFile };
}

/** A digest failure while reading the archive is the archive's fault: say so, naming the object. */
async function asArchiveError<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isKilnError(e, 'DIGEST_MISMATCH') && e.message.includes(file)) {
      throw new KilnError('ARCHIVE_CORRUPT', e.message, {
        kind: 'usage',
        hint: 'the archive was altered or damaged on the way; export it again and carry the whole file over',
        details: e.details,
      });
    }
    throw e;
  }
}
