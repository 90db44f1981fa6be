// The OCI objects of cosign's classic signature and attestation storage, as pure data; pushing
// them is the registry client's job. Checked against cosign v2.6.5 and the bytes it pushed
// (test/fixtures/sign/cosign-v2.6.5, *.raw):
// - tags `sha256-<hex>.sig` / `.att` in the image's repository (pkg/oci/remote/options.go);
// - one layer per signature: media type application/vnd.dev.cosign.simplesigning.v1+json
//   (pkg/types/media.go), annotation dev.cosignproject.cosign/signature = base64 signature
//   (pkg/oci/static/signature.go); attestation layers: application/vnd.dsse.envelope.v1+json
//   (pkg/types/payload.go), annotations {dev.cosignproject.cosign/signature: "", predicateType}
//   (cmd/cosign/cli/attest/attest.go: static.NewAttestation has an empty signature);
// - the image around them is go-containerregistry's empty image + mutate.Append: an OCI
//   manifest, config {"architecture":"","created":"0001-01-01T00:00:00Z","history":[one
//   {"created":"0001-01-01T00:00:00Z"} per layer],"os":"","rootfs":{"type":"layers",
//   "diff_ids":[layer digests]},"config":{}}; layers are uncompressed, so diff_id = digest.
// Appending a signature = the existing layers plus the new one, config rebuilt.
import { createHash } from 'node:crypto';
import { GoStruct, goJson } from './gojson.ts';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

export interface CosignDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

/** A layer blob with its descriptor. */
export interface CosignLayer {
  descriptor: CosignDescriptor;
  data: Buffer;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tagFor(digest: string, suffix: 'sig' | 'att'): string {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new TypeError(`not a digest: ${digest}`);
  return `${m[1]}-${m[2]}.${suffix}`;
}

/** `sha256-<hex>.sig`: where cosign looks for signatures of the image with `digest`. */
export const signatureTag = (digest: string): string => tagFor(digest, 'sig');
/** `sha256-<hex>.att`: where cosign looks for attestations. */
export const attestationTag = (digest: string): string => tagFor(digest, 'att');

function layer(data: Uint8Array, mediaType: string, annotations: Record<string, string>): CosignLayer {
  const buf = Buffer.from(data);
  return { data: buf, descriptor: { mediaType, size: buf.length, digest: sha256(buf), annotations } };
}

/** A `.sig` layer: the simple-signing payload, its base64 signature in the annotation. */
export function signatureLayer(payload: Uint8Array, base64Signature: string): CosignLayer {
  return layer(payload, SIMPLE_SIGNING_MEDIA_TYPE, { [SIGNATURE_ANNOTATION]: base64Signature });
}

/** An `.att` layer: the serialized DSSE envelope; the signature lives inside it. */
export function attestationLayer(envelope: Uint8Array, predicateType: string): CosignLayer {
  return layer(envelope, DSSE_MEDIA_TYPE, {
    [SIGNATURE_ANNOTATION]: '',
    [PREDICATE_TYPE_ANNOTATION]: predicateType,
  });
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The config blob cosign (go-containerregistry) writes for these layers, byte for byte. */
export function cosignConfig(layers: readonly CosignDescriptor[]): Buffer {
  const config = new GoStruct({
    architecture: '',
    created: ZERO_TIME,
    history: layers.length ? layers.map(() => new GoStruct({ created: ZERO_TIME })) : undefined,
    os: '',
    rootfs: new GoStruct({ type: 'layers', diff_ids: layers.map((l) => l.digest) }),
    config: {},
  });
  return Buffer.from(goJson(config));
}

function descriptor(d: CosignDescriptor): GoStruct {
  const hasAnnotations = d.annotations !== undefined && Object.keys(d.annotations).length > 0;
  return new GoStruct({
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    annotations: hasAnnotations ? d.annotations : undefined,
  });
}

export interface CosignImage {
  config: { descriptor: CosignDescriptor; data: Buffer };
  manifest: { descriptor: CosignDescriptor; data: Buffer };
}

/** The `.sig`/`.att` image holding `layers` in order (existing ones first when appending). */
export function cosignImage(layers: readonly CosignDescriptor[]): CosignImage {
  const cfg = cosignConfig(layers);
  const cfgDesc = { mediaType: OCI_CONFIG_MEDIA_TYPE, size: cfg.length, digest: sha256(cfg) };
  const manifest = Buffer.from(
    goJson(
      new GoStruct({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        config: descriptor(cfgDesc),
        layers: layers.map(descriptor),
      }),
    ),
  );
  return {
    config: { descriptor: cfgDesc, data: cfg },
    manifest: {
      descriptor: { mediaType: OCI_MANIFEST_MEDIA_TYPE, size: manifest.length, digest: sha256(manifest) },
      data: manifest,
    },
  };
}
