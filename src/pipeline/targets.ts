import { KilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { OciArchive } from '../oci/layout/archive.ts';
import { OciLayout, parseLayoutRef } from '../oci/layout/layout.ts';
import { type ImageReference, parseReference } from '../oci/reference.ts';
import { Registry } from '../oci/remote/client.ts';
import { RegistryRepository } from '../oci/remote/repository.ts';
import type { ImageSource, ImageTarget } from '../oci/store.ts';

// Where images are read from and written to, as users spell it on the command line (DESIGN.md):
// `host[:port]/repo[:tag]`, `oci:DIR[:tag|@digest]`, `oci-archive:FILE.tar`.

export type Location =
  | { kind: 'registry'; ref: ImageReference }
  | { kind: 'layout'; dir: string; ref: string | undefined }
  | { kind: 'archive'; file: string };

export interface TransportSettings {
  /** Registries allowed over plain HTTP (loopback ones always are). */
  insecure: string[];
  log: Logger;
}

export function parseLocation(spec: string): Location {
  // skopeo users write `docker://host/repo`; it names the same registry repository.
  if (spec.startsWith('docker://'))
    return { kind: 'registry', ref: parseReference(spec.slice('docker://'.length)) };
  if (spec.startsWith('oci-archive:')) {
    const file = spec.slice('oci-archive:'.length);
    if (!file) throw usage(spec, 'names no file');
    return { kind: 'archive', file };
  }
  if (spec.startsWith('oci:')) {
    const { dir, ref } = parseLayoutRef(spec);
    if (!dir) throw usage(spec, 'names no directory');
    return { kind: 'layout', dir, ref };
  }
  return { kind: 'registry', ref: parseReference(spec) };
}

/**
 * One Registry (auth state, tokens) per host per TransportSettings object: a command or one
 * promotion shares it between base and target, while a long-running `kiln serve` gets fresh
 * credentials for every promotion (credential-helper tokens such as ECR's expire).
 */
const registries = new WeakMap<TransportSettings, Map<string, Registry>>();

export function registryFor(host: string, t: TransportSettings): Registry {
  let hosts = registries.get(t);
  if (!hosts) {
    hosts = new Map();
    registries.set(t, hosts);
  }
  let r = hosts.get(host);
  if (!r) {
    r = new Registry({ registry: host, insecure: t.insecure, logger: t.log });
    hosts.set(host, r);
  }
  return r;
}

/** The tag written in a target spec (`repo:tag`, `oci:DIR:tag`), which overrides the tag template. */
export function specTag(spec: string): string | undefined {
  const loc = parseLocation(spec);
  return loc.kind === 'registry'
    ? loc.ref.tag
    : loc.kind === 'layout' && !loc.ref?.startsWith('sha256:')
      ? loc.ref
      : undefined;
}

/** Open a write target. A tag written in the spec (`repo:tag`, `oci:DIR:tag`) is returned to override the tag template. */
export async function openTarget(
  spec: string,
  t: TransportSettings,
): Promise<{ target: ImageTarget; tag: string | undefined }> {
  const loc = parseLocation(spec);
  switch (loc.kind) {
    case 'archive':
      return { target: await OciArchive.create(loc.file), tag: undefined };
    case 'layout':
      if (loc.ref?.startsWith('sha256:'))
        throw usage(spec, 'is pinned to a digest; a target takes a directory (and optionally a tag)');
      return { target: await OciLayout.open(loc.dir, { create: true }), tag: loc.ref };
    case 'registry':
      if (loc.ref.digest)
        throw usage(spec, 'is pinned to a digest; a target takes a repository (and optionally a tag)');
      return {
        target: new RegistryRepository(registryFor(loc.ref.registry, t), loc.ref.repository),
        tag: loc.ref.tag,
      };
  }
}

/** Open an image to read: registry reference or `oci:DIR[:tag|@digest]` (tag `latest` when none is given). */
export async function openSource(
  spec: string,
  t: TransportSettings,
): Promise<{ source: ImageSource; ref: string }> {
  const loc = parseLocation(spec);
  switch (loc.kind) {
    case 'archive':
      throw usage(spec, 'is an archive; unpack it with `skopeo copy oci-archive:F oci:DIR` and name oci:DIR');
    case 'layout':
      return { source: await OciLayout.open(loc.dir, { create: false }), ref: loc.ref ?? 'latest' };
    case 'registry':
      return {
        source: new RegistryRepository(registryFor(loc.ref.registry, t), loc.ref.repository),
        ref: loc.ref.digest ?? loc.ref.tag ?? 'latest',
      };
  }
}

function usage(spec: string, problem: string): KilnError {
  return new KilnError('LOCATION_INVALID', `"${spec}" ${problem}`, {
    kind: 'usage',
    hint: 'write host[:port]/repo[:tag], oci:DIR[:tag] or oci-archive:FILE.tar',
  });
}
