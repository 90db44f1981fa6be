// kiln-export.json: the table of contents of an air-gap archive (docs/airgap.md). Every object
// in the archive is named by digest and size (blobs and manifests are content-addressed, so the
// digest IS the checksum); plain files carry their sha256. The index itself is checksummed by
// the archive's last entry, kiln-export.json.sha256 (`sha256:<hex>  kiln-export.json`), which
// catches a damaged or cut index; what proves the content genuine is the signatures, checked
// with the public key on import before anything is written.
import { z } from 'zod';
import type { Digest } from '../oci/digest.ts';

export const INDEX_FILE = 'kiln-export.json';
export const INDEX_SUM_FILE = 'kiln-export.json.sha256';
export const ISVC_DIR = 'kiln/inferenceservices';
export const FORMAT_VERSION = 1;

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/) as unknown as z.ZodType<Digest>;
const DescriptorSchema = z.object({
  mediaType: z.string(),
  digest,
  size: z.number().int().nonnegative(),
  artifactType: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const ExportedImageSchema = z.object({
  /** Where it came from: `host/repo` (the repository path is kept on import, under the new prefix). */
  repository: z.string().min(1),
  digest,
  mediaType: z.string(),
  size: z.number().int().nonnegative(),
  /** Tags to write on import, last (after the image and its signatures). */
  tags: z.array(z.string()),
  /** Manifests of the image (children first, the top one last). */
  manifests: z.array(DescriptorSchema),
  /** The classic `.sig` / `.att` manifests, when the source had them. */
  signature: digest.optional(),
  attestation: digest.optional(),
  /** Referrers of the image (Sigstore bundles and others), as a referrers list describes them. */
  referrers: z.array(DescriptorSchema),
  /** The InferenceService kiln would apply, as written in the archive (source registry). */
  inferenceService: z.object({ file: z.string(), namespace: z.string(), name: z.string() }).optional(),
});

export const ExportIndexSchema = z.object({
  kilnExport: z.literal(FORMAT_VERSION),
  created: z.string(),
  kilnVersion: z.string(),
  images: z.array(ExportedImageSchema).min(1),
  /** Every blob (layers, configs, signature payloads, bundles) with its size. */
  blobs: z.array(z.object({ digest, size: z.number().int().nonnegative() })),
  files: z.array(
    z.object({ path: z.string(), sha256: z.string().regex(/^[a-f0-9]{64}$/), size: z.number() }),
  ),
});

export type ExportedImage = z.infer<typeof ExportedImageSchema>;
export type ExportIndex = z.infer<typeof ExportIndexSchema>;

export const blobPath = (d: Digest): string => `blobs/sha256/${d.slice('sha256:'.length)}`;
