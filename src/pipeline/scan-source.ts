import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { KilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MlflowOptions } from '../mlflow/index.ts';
import { readTar } from '../oci/layer/untar.ts';
import { MT } from '../oci/mediatypes.ts';
import type { FileReport, Scanner } from '../scan/index.ts';
import { mlflowModel } from './mlflow-source.ts';
import { openSource, type TransportSettings } from './targets.ts';

// What `kiln scan` reads: an MLflow version (streamed from the tracking server), a local file or
// folder, or an image's model layer (oci:DIR or a registry reference, streamed and unpacked on
// the fly). Every file is scanned as its bytes arrive; nothing is written to disk.

export async function scanSpec(
  spec: string,
  scanner: Scanner,
  env: { mlflow: () => MlflowOptions; transport: TransportSettings; log: Logger },
): Promise<FileReport[]> {
  if (spec.startsWith('models:/')) {
    const model = await mlflowModel(spec, env.mlflow(), env.log);
    const out: FileReport[] = [];
    for (const f of model.files) out.push(await scanReadable(scanner, f.path, await model.open(f)));
    return out;
  }
  const local = await stat(spec).catch(() => undefined);
  if (local?.isFile())
    return [await scanReadable(scanner, spec, createReadStream(spec, { highWaterMark: 1 << 20 }))];
  if (local?.isDirectory()) {
    const out: FileReport[] = [];
    for (const path of await walk(spec)) {
      out.push(
        await scanReadable(scanner, relative(spec, path), createReadStream(path, { highWaterMark: 1 << 20 })),
      );
    }
    return out;
  }
  if (spec.startsWith('oci:') || /^[a-z0-9.-]+(:\d+)?\/[^ ]+$/i.test(spec))
    return scanImage(spec, scanner, env.transport);
  throw new KilnError('SCAN_SOURCE_NOT_FOUND', `"${spec}" is no file, folder, models:/ URI or image`, {
    kind: 'failed',
    hint: 'name models:/NAME@ALIAS, models:/NAME/VERSION, a path, oci:DIR[:tag] or host/repo[:tag|@digest]',
  });
}

async function scanReadable(scanner: Scanner, path: string, body: Readable): Promise<FileReport> {
  const f = scanner.file(path);
  for await (const chunk of body as AsyncIterable<Buffer>) await f.write(chunk);
  return f.end();
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The model layer is the last layer kiln appended; for an index, the first platform's. */
async function scanImage(spec: string, scanner: Scanner, t: TransportSettings): Promise<FileReport[]> {
  const { source, ref } = await openSource(spec, t);
  let m = await source.getManifest(ref);
  let doc = JSON.parse(m.bytes.toString('utf8')) as {
    manifests?: { digest: string }[];
    layers?: { mediaType: string; digest: string; size: number }[];
  };
  if (doc.manifests) {
    const first = doc.manifests.find(
      (d) => !('platform' in d) || (d as { platform?: { os?: string } }).platform?.os !== 'unknown',
    );
    if (!first)
      throw new KilnError('SCAN_IMAGE_EMPTY', `${spec} has no image manifest`, {
        hint: 'name a platform image',
      });
    m = await source.getManifest(first.digest);
    doc = JSON.parse(m.bytes.toString('utf8'));
  }
  const layer = doc.layers?.at(-1);
  if (!layer)
    throw new KilnError('SCAN_IMAGE_EMPTY', `${spec} has no layers`, { hint: 'name an image kiln baked' });
  const blob = await source.openBlob(layer as Parameters<typeof source.openBlob>[0]);
  const mt = layer.mediaType;
  const body =
    mt === MT.ociLayerGzip || mt === MT.dockerLayerGzip
      ? blob.pipe(zlib.createGunzip())
      : mt.endsWith('+zstd')
        ? blob.pipe(zlib.createZstdDecompress())
        : blob;
  blob.on('error', (e) => body.destroy(e));
  const reports: Promise<FileReport>[] = [];
  await readTar(body, (path, _size) => {
    const f = scanner.file(path);
    return {
      write: (b) => f.write(b),
      end: () => {
        reports.push(f.end());
      },
    };
  });
  return Promise.all(reports);
}
