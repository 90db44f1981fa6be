// Base images for tests, built locally (no image can be pulled from the internet here) and pushed
// to a registry rig with skopeo, digests preserved:
//   busybox          one layer, Cmd ["sh"], no Entrypoint (also the modelcar base)
//   busybox-multi    an index: linux/amd64 + linux/arm64 + an unknown/unknown attestation, as buildx makes
//   sklearn runtime  Debian bookworm + python3 + scikit-learn + kserve SDK + a KServe-style server
// Layout dirs live in ~/.cache/kiln/images/ so tests can also use `oci:DIR` as a base.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_LAYOUT, BUSYBOX_MULTI_LAYOUT, ensureBusyboxLayouts } from './images/busybox.ts';
import { layoutTop } from './images/layout.ts';
import { ensureSklearnRuntime, SKLEARN_RUNTIME_LAYOUT } from './images/sklearn-runtime.ts';
import { run, tempDir } from './proc.ts';
import type { RegistryRig } from './registry.ts';

export {
  BUSYBOX_LAYOUT,
  BUSYBOX_MULTI_LAYOUT,
  ensureBusyboxLayouts,
  ensureSklearnRuntime,
  SKLEARN_RUNTIME_LAYOUT,
};
export {
  SKLEARN_RUNTIME_ARGS,
  SKLEARN_RUNTIME_ENTRYPOINT,
  SKLEARN_RUNTIME_USER,
} from './images/sklearn-runtime.ts';

export interface PushedImage {
  /** `host/repo@sha256:...`: what tests pass to kiln and containerd. */
  ref: string;
  /** The pushed manifest's (or index's) digest, equal to the layout's. */
  digest: string;
  /** `host/repo:tag`, the tag skopeo pushed to (a registry needs one; kiln never uses it). */
  tagRef: string;
}

export async function pushBusyboxBase(registry: RegistryRig, repo = 'base/busybox'): Promise<PushedImage> {
  await ensureBusyboxLayouts();
  return pushLayout(registry, BUSYBOX_LAYOUT, repo);
}

/** The multi-platform index; `digest` is the index's. */
export async function pushBusyboxMulti(
  registry: RegistryRig,
  repo = 'base/busybox-multi',
): Promise<PushedImage> {
  await ensureBusyboxLayouts();
  return pushLayout(registry, BUSYBOX_MULTI_LAYOUT, repo);
}

/** Builds the runtime first if this machine has not yet (`scripts/setup images` normally has). */
export async function pushSklearnRuntime(
  registry: RegistryRig,
  repo = 'runtimes/sklearn',
): Promise<PushedImage> {
  await ensureSklearnRuntime();
  return pushLayout(registry, SKLEARN_RUNTIME_LAYOUT, repo);
}

/**
 * `skopeo copy --all --preserve-digests` of a layout to `registry/repo:tag`: every platform of an
 * index, byte-identical manifests, so the pushed digest is the layout's.
 */
export async function pushLayout(
  registry: RegistryRig,
  layoutDir: string,
  repo: string,
  tag = 'latest',
): Promise<PushedImage> {
  const top = await layoutTop(layoutDir);
  const tmp = await tempDir('skopeo');
  try {
    const digestFile = join(tmp.path, 'digest');
    const creds = registry.auth
      ? ['--dest-creds', `${registry.auth.username}:${registry.auth.password}`]
      : [];
    await run('skopeo', [
      'copy',
      '--quiet',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      ...creds,
      '--digestfile',
      digestFile,
      `oci:${layoutDir}:latest`,
      `docker://${registry.host}/${repo}:${tag}`,
    ]);
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    if (pushed !== top.digest) {
      throw new Error(`skopeo pushed ${layoutDir} as ${pushed}, but the layout's digest is ${top.digest}`);
    }
    return {
      ref: `${registry.host}/${repo}@${pushed}`,
      digest: pushed,
      tagRef: `${registry.host}/${repo}:${tag}`,
    };
  } finally {
    await tmp.remove();
  }
}
