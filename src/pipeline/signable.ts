import { basename } from 'node:path';
import { KilnError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { OciLayout } from '../oci/layout/layout.ts';
import { RegistryRepository } from '../oci/remote/repository.ts';
import type { ImageTarget, ManifestBytes } from '../oci/store.ts';
import { cosignDockerReference } from '../sign/simplesigning.ts';
import { KEY } from './labels.ts';
import { parseLocation, registryFor, type TransportSettings } from './targets.ts';

// An image named by digest, opened for `kiln sign | attest | verify`: `host[:port]/repo@sha256:...`
// or `oci:DIR@sha256:...`. A tag alone is refused: a signature must name what was checked, and a
// tag can be moved after the check (DESIGN.md: nothing after `image` refers to a tag alone).

export interface Signable {
  /** Where the image and its .sig/.att live (a registry repository or an OCI layout). */
  store: ImageTarget;
  digest: Digest;
  /** `repo@sha256:...` / `oci:DIR@sha256:...`, what kiln prints. */
  reference: string;
  /** The image's manifest or index, as stored (read to prove the image exists). */
  manifest: ManifestBytes;
  /** docker-reference and in-toto subject name: see `signedIdentity`. */
  identity: string;
}

export type SignVerb = 'sign' | 'attest' | 'verify';

export async function openSignable(spec: string, t: TransportSettings, verb: SignVerb): Promise<Signable> {
  const loc = parseLocation(spec);
  let store: ImageTarget | undefined;
  let digest: Digest | undefined;
  if (loc.kind === 'archive') {
    throw new KilnError('LOCATION_INVALID', `"${spec}" is an archive, which kiln cannot ${verb} in place`, {
      kind: 'usage',
      hint:
        verb === 'verify'
          ? 'unpack it first: skopeo copy oci-archive:FILE:TAG oci:DIR:TAG (and the sha256-*.sig/.att tags), then name oci:DIR@sha256:...'
          : 'sign while baking (kiln bake --sign-key K --to oci-archive:FILE), or sign the layout or registry copy',
    });
  }
  if (loc.kind === 'layout') {
    digest = loc.ref?.startsWith('sha256:') ? (loc.ref as Digest) : undefined;
    if (digest) store = await OciLayout.open(loc.dir, { create: false });
  } else {
    digest = loc.ref.digest;
    if (digest) store = new RegistryRepository(registryFor(loc.ref.registry, t), loc.ref.repository);
  }
  if (!digest || !store) {
    throw new KilnError('DIGEST_REQUIRED', `"${spec}" does not name a digest: ${verb} digests, not tags`, {
      kind: 'usage',
      hint: `a tag can move after it is checked; pass IMAGE@sha256:... (the digest kiln bake printed, or skopeo inspect --format '{{.Digest}}')`,
      details: { spec },
    });
  }
  const manifest = await store.getManifest(digest);
  return {
    store,
    digest,
    reference: store.pinned(digest),
    manifest,
    identity: signedIdentity(store, modelNameOf(manifest) ?? basename(loc.kind === 'layout' ? loc.dir : '')),
  };
}

/**
 * The repository a signature names (critical.identity.docker-reference) and the attestation
 * subject's name: cosign's spelling of the registry repository. A layout has no repository, so it
 * gets `localhost/<name>` (podman's prefix for images built locally), where name is the model's;
 * cosign never checks this field, policy engines that do need `kiln sign --sign-container-identity`.
 */
export function signedIdentity(target: ImageTarget, name: string): string {
  if (target instanceof RegistryRepository) return cosignDockerReference(target.name);
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '');
  return `localhost/${clean || 'image'}`;
}

function modelNameOf(manifest: ManifestBytes): string | undefined {
  try {
    const doc = JSON.parse(manifest.bytes.toString('utf8')) as { annotations?: Record<string, string> };
    return doc.annotations?.[KEY.model];
  } catch {
    return undefined;
  }
}
