// `kiln export IMAGE@DIGEST... --to FILE.tar`: one file that carries images into an air gap
// with everything needed to trust and deploy them there (docs/airgap.md):
// - an OCI image layout (skopeo's `oci-archive:` reads it): every image with all its
//   platforms, the classic `.sig`/`.att` images, and the referrers (Sigstore bundles) with the
//   referrers-tag-schema index `<repo>:sha256-<hex>` listing them;
// - the InferenceService kiln would apply for each image kiln baked (kiln/inferenceservices/);
// - kiln-export.json, the checksummed table of contents, and its checksum as the last file.
// Written in one pass through OciArchive: blobs stream from the source into the file, verified
// against their digests on the way; a failure deletes the partial file.
import { createHash } from 'node:crypto';
import { type Logger, silentLogger } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import { sha256Digest } from '../oci/digest.ts';
import { OciArchive } from '../oci/layout/archive.ts';
import { MT } from '../oci/mediatypes.ts';
import { referrersTag } from '../oci/referrers.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import type { Descriptor, Index } from '../oci/types.ts';
import { k8sName } from '../pipeline/deploy-plan.ts';
import { attestationTag, signatureTag } from '../sign/cosign-layers.ts';
import { KILN_VERSION } from '../version.ts';
import { collectImage, referrerDescriptor } from './collect.ts';
import {
  type ExportedImage,
  type ExportIndex,
  FORMAT_VERSION,
  INDEX_FILE,
  INDEX_SUM_FILE,
  ISVC_DIR,
} from './index-file.ts';
import { isvcInputs, renderIsvcYaml } from './isvc.ts';

export interface ExportSource {
  source: ImageSource;
  /** `host/repo` as the user named it. */
  repository: string;
  digest: Digest;
  /** A tag the user named next to the digest (`repo:tag@sha256:...`), written last on import. */
  tags: string[];
}

export interface ExportResult {
  file: string;
  images: { reference: string; inferenceService?: string | undefined }[];
  /** sha256 of kiln-export.json: compare it on the other side of the gap. */
  indexDigest: Digest;
  bytes: number;
}

const desc = (m: ManifestBytes): Descriptor => ({
  mediaType: m.mediaType,
  digest: m.digest,
  size: m.bytes.length,
});

export async function exportImages(
  sources: readonly ExportSource[],
  file: string,
  opts: { namespace: string; now?: Date; log?: Logger },
): Promise<ExportResult> {
  const log = opts.log ?? silentLogger;
  const now = opts.now ?? new Date();
  const archive = await OciArchive.create(file);
  try {
    const images: ExportedImage[] = [];
    const blobs = new Map<Digest, number>();
    const files: ExportIndex['files'] = [];
    const out: ExportResult['images'] = [];
    for (const s of sources) {
      const c = await collectImage(s.source, s.digest);
      for (const b of c.blobs) {
        await archive.copyBlob(b, s.source);
        blobs.set(b.digest, b.size);
      }
      for (const m of c.manifests) await archive.putManifest(m);
      await archive.putManifest(c.top, `${s.repository}@${s.digest}`);
      if (c.signature) await archive.putManifest(c.signature, `${s.repository}:${signatureTag(s.digest)}`);
      if (c.attestation)
        await archive.putManifest(c.attestation, `${s.repository}:${attestationTag(s.digest)}`);
      const referrers = c.referrers.map((r) => referrerDescriptor(r.manifests[r.manifests.length - 1]!));
      for (const r of c.referrers) for (const m of r.manifests) await archive.putManifest(m);
      if (referrers.length > 0) {
        const index: Index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: referrers };
        const bytes = Buffer.from(JSON.stringify(index));
        await archive.putManifest(
          { bytes, mediaType: MT.ociIndex, digest: sha256Digest(bytes) },
          `${s.repository}:${referrersTag(s.digest)}`,
        );
      }
      const inputs = await isvcInputs(s.source, c.top);
      let isvc: ExportedImage['inferenceService'];
      if (inputs) {
        // Two images of one model (two versions) get two InferenceServices: name-2, name-3...
        const base = k8sName(inputs.model.name);
        let name = base;
        for (let n = 2; files.some((f) => f.path === `${ISVC_DIR}/${opts.namespace}/${name}.yaml`); n++) {
          name = `${base.slice(0, 60)}-${n}`;
        }
        const ref = { namespace: opts.namespace, name };
        const path = `${ISVC_DIR}/${ref.namespace}/${ref.name}.yaml`;
        const yaml = Buffer.from(renderIsvcYaml(ref, `${s.repository}@${s.digest}`, inputs, now));
        await archive.addFile(path, yaml);
        files.push({ path, sha256: createHash('sha256').update(yaml).digest('hex'), size: yaml.length });
        isvc = { file: path, ...ref };
      }
      images.push({
        repository: s.repository,
        digest: s.digest,
        mediaType: c.top.mediaType,
        size: c.top.bytes.length,
        tags: s.tags,
        manifests: c.manifests.map(desc),
        ...(c.signature ? { signature: c.signature.digest } : {}),
        ...(c.attestation ? { attestation: c.attestation.digest } : {}),
        referrers,
        ...(isvc ? { inferenceService: isvc } : {}),
      });
      // The classic images' manifests are objects too: list them with the image's manifests' sizes.
      for (const m of [c.signature, c.attestation]) if (m) images[images.length - 1]!.manifests.push(desc(m));
      out.push({ reference: `${s.repository}@${s.digest}`, inferenceService: isvc?.file });
      log.info(
        `exported ${s.repository}@${s.digest}: ${c.manifests.length} manifest(s), ${c.blobs.length} blob(s), ` +
          `${c.signature ? 'classic signature, ' : ''}${c.attestation ? 'classic attestations, ' : ''}${referrers.length} referrer(s)`,
      );
    }
    const index: ExportIndex = {
      kilnExport: FORMAT_VERSION,
      created: now.toISOString(),
      kilnVersion: KILN_VERSION,
      images,
      blobs: [...blobs].map(([digest, size]) => ({ digest, size })),
      files,
    };
    const bytes = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
    const indexDigest = sha256Digest(bytes);
    await archive.addFile(INDEX_FILE, bytes);
    await archive.addFile(INDEX_SUM_FILE, Buffer.from(`${indexDigest}  ${INDEX_FILE}\n`));
    await archive.close();
    return { file: archive.file, images: out, indexDigest, bytes: archive.bytesWritten };
  } catch (e) {
    await archive.abort();
    throw e;
  }
}
