// The busybox base: Debian's busybox-static in ONE layer, no network needed. It doubles as the
// modelcar base (KServe's modelcar contract: a shell with `ln` and `sleep`, no ENTRYPOINT; kiln adds
// `/models`). Byte-for-byte reproducible: the same busybox binary always gives the same digests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../proc.ts';
import { cachedLayout, IMAGES_DIR } from './cache.ts';
import {
  type Descriptor,
  finishLayout,
  MT_CONFIG,
  MT_INDEX,
  MT_MANIFEST,
  manifestOf,
  packLayer,
  putJson,
} from './layout.ts';

export const BUSYBOX_BIN = '/bin/busybox';
export const BUSYBOX_LAYOUT = join(IMAGES_DIR, 'busybox');
export const BUSYBOX_MULTI_LAYOUT = join(IMAGES_DIR, 'busybox-multi');
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Bump when the build below changes, so cached layouts are rebuilt. */
const RECIPE = 'busybox-v1';
const EPOCH = 0; // SOURCE_DATE_EPOCH of the base: fixed, so digests never drift
const CREATED = new Date(EPOCH * 1000).toISOString();

/** Builds (once per machine) the single-platform and the multi-platform busybox layouts. */
export async function ensureBusyboxLayouts(): Promise<{ single: string; multi: string }> {
  const inputs = createHash('sha256')
    .update(RECIPE)
    .update(await readFile(BUSYBOX_BIN))
    .digest('hex');
  const single = await cachedLayout('busybox', inputs, async (dir) => {
    const top = await buildImage(dir, 'amd64');
    await finishLayout(dir, top);
    return { digest: top.digest };
  });
  const multi = await cachedLayout('busybox-multi', inputs, async (dir) => {
    const amd64 = await buildImage(dir, 'amd64');
    // arm64 reuses the amd64 busybox bytes: it never runs here, it only exercises the index path.
    const arm64 = await buildImage(dir, 'arm64');
    const att = await attestation(dir, amd64);
    const index = await putJson(dir, MT_INDEX, {
      schemaVersion: 2,
      mediaType: MT_INDEX,
      manifests: [amd64, arm64, att],
    });
    await finishLayout(dir, index);
    return { digest: index.digest };
  });
  return { single: single.dir, multi: multi.dir };
}

async function buildImage(dir: string, arch: string): Promise<Descriptor> {
  const stage = await tempDir('busybox-root');
  try {
    const root = stage.path;
    await mkdir(join(root, 'bin'), { mode: 0o755 });
    await copyFile(BUSYBOX_BIN, join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    for (const applet of applets()) {
      if (applet !== 'busybox') await symlink('busybox', join(root, 'bin', applet));
    }
    await mkdir(join(root, 'tmp'));
    await chmod(join(root, 'tmp'), 0o1777);
    await chmod(root, 0o755);
    const layer = await packLayer(dir, root, ['bin', 'tmp'], EPOCH);
    const config = await putJson(dir, MT_CONFIG, {
      created: CREATED,
      architecture: arch,
      os: 'linux',
      config: { Env: [PATH], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [
        { created: CREATED, created_by: `kiln test rig: ${BUSYBOX_BIN} (busybox-static) + applet links` },
      ],
    });
    const manifest = await putJson(dir, MT_MANIFEST, manifestOf(config, [layer.desc]));
    return { ...manifest, platform: { architecture: arch, os: 'linux' } };
  } finally {
    await rm(stage.path, { recursive: true, force: true });
  }
}

/** Every applet this busybox provides (sh, ln, sleep, sha256sum, cat, ls, id, ...), all linked in /bin. */
function applets(): string[] {
  return execFileSync(BUSYBOX_BIN, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

/**
 * An attestation manifest shaped like the ones Docker buildx adds to every index it pushes:
 * platform unknown/unknown, an in-toto layer, annotations pointing at the image it describes.
 * Consumers must skip it when choosing a platform (FIELD-NOTES: OCI image format).
 */
async function attestation(dir: string, subject: Descriptor): Promise<Descriptor> {
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{ name: 'kiln-rig/busybox', digest: { sha256: subject.digest.slice('sha256:'.length) } }],
    predicate: { builder: { id: 'kiln-test-rig' }, buildType: 'kiln-test-rig/busybox' },
  };
  const body = await putJson(dir, 'application/vnd.in-toto+json', statement);
  const layer = { ...body, annotations: { 'in-toto.io/predicate-type': statement.predicateType } };
  const config = await putJson(dir, MT_CONFIG, {
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: [body.digest] },
  });
  const manifest = await putJson(dir, MT_MANIFEST, manifestOf(config, [layer]));
  return {
    ...manifest,
    annotations: {
      'vnd.docker.reference.digest': subject.digest,
      'vnd.docker.reference.type': 'attestation-manifest',
    },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
}
