import type { ImageMode } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { tagFor } from './tags.ts';
import { parseLocation } from './targets.ts';

// Everything about a bake or promote that can be checked from its arguments alone is checked
// here, before MLflow or a registry is contacted: a typo costs no network round trip, and no
// download starts that would then fail on a bad flag.

export interface BuildArgs {
  target: string;
  base: string | undefined;
  mode: ImageMode;
  /** Tag template (`v{version}`); ignored when the target names a tag. */
  tag: string;
}

export function preflight(a: BuildArgs): void {
  const target = parseLocation(a.target);
  if (target.kind === 'registry' && target.ref.digest) {
    throw new KilnError(
      'LOCATION_INVALID',
      `"${a.target}" is pinned to a digest; a target takes a repository (and optionally a tag)`,
      {
        kind: 'usage',
        hint: 'write host[:port]/repo[:tag], oci:DIR[:tag] or oci-archive:FILE.tar',
      },
    );
  }
  if (a.base !== undefined) parseLocation(a.base);
  // The template is checked with sample values: an unknown placeholder or an invalid result is
  // a usage error now, not after the download.
  tagFor(a.tag, { name: 'model', version: '1' });
  if (a.mode === 'modelcar' && a.base === undefined) {
    throw new KilnError(
      'MODELCAR_BASE_REQUIRED',
      `modelcar images need a base with sh, ln and sleep (KServe's modelcar contract)`,
      {
        kind: 'usage',
        hint: 'pass --base with a small shell image, e.g. a busybox image in your registry',
      },
    );
  }
}
