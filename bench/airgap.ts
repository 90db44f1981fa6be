// kiln export / kiln import of a 1 GiB model image beside skopeo copying the same image in the
// same run, on Debian's docker-registry on loopback (three registries: source, kiln's destination,
// skopeo's destination, so nobody finds blobs already there). The image is one incompressible
// 1 GiB layer (like model weights), signed and attested by kiln in both formats.
//   node bench/airgap.ts [--size-mib 1024] [--runs 3]
// Prints, per run: export and import wall time, MB/s (image bytes / s) and peak RSS (GNU time
// %M) for kiln; skopeo copy docker:// -> oci-archive: (the export's peer) and oci-archive: ->
// docker:// (the import's peer, reading kiln's own archive, image only: skopeo unpacks the tar
// to a temporary directory first); skopeo docker:// -> docker:// (no archive: the registry-bound
// ceiling); the throughput ratios; and the archive's size against the image alone.
import { randomFillSync } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { MT } from '../src/oci/mediatypes.ts';
import { Registry } from '../src/oci/remote/index.ts';
import { RegistryRepository } from '../src/oci/remote/repository.ts';
import { KILN_MAIN, kilnEnv } from '../test/rig/cli.ts';
import { run, tempDir } from '../test/rig/proc.ts';
import { type RegistryRig, startRegistry } from '../test/rig/registry.ts';
import { type Measure, timed } from './time.ts';

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } },
});
const size = Number(values['size-mib']) * 2 ** 20;
const runs = Number(values.runs);

function randomSource(total: number): Readable {
  let left = total;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (left === 0) return void this.push(null);
      const bytes = randomFillSync(Buffer.allocUnsafe(Math.min(1 << 20, left)));
      left -= bytes.length;
      this.push(bytes);
    },
  });
}

/** A one-layer image of `size` random bytes; returns its pinned reference and its bytes (blobs + manifest). */
async function pushImage(host: string, repo: string): Promise<{ ref: string; imageBytes: number }> {
  const r = new RegistryRepository(new Registry(host), repo);
  const layer = await r.putBlobStream(randomSource(size));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const cfg = await r.putBlob(config, MT.ociConfig);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: cfg,
      layers: [{ mediaType: MT.ociLayer, digest: layer.digest, size: layer.size }],
      annotations: {
        'dev.kiln.mlflow.model': 'bench',
        'dev.kiln.mlflow.version': '1',
        'dev.kiln.mode': 'baked',
      },
    }),
  );
  const { sha256Digest } = await import('../src/oci/digest.ts');
  const digest = sha256Digest(bytes);
  await r.putManifest({ bytes, mediaType: MT.ociManifest, digest }, 'v1');
  return { ref: `${host}/${repo}:v1@${digest}`, imageBytes: layer.size + config.length + bytes.length };
}

const mbps = (bytes: number, m: Measure): string => (bytes / 1e6 / m.seconds).toFixed(0);
const work = await tempDir('bench-airgap');
const regs: RegistryRig[] = [];
try {
  const env = kilnEnv({
    HOME: work.path,
    DOCKER_CONFIG: join(work.path, 'docker'),
    COSIGN_PASSWORD: 'bench',
  });
  const kiln = (args: string[]) => run(process.execPath, [KILN_MAIN, ...args], { env, cwd: work.path });
  await kiln(['keygen', '--output-key-prefix', 'k']);
  await writeFile(join(work.path, 'predicate.json'), '{"bench":true}');
  const rows: string[] = [];
  for (let i = 1; i <= runs; i++) {
    const [src, dstKiln, dstSkopeo, dstDirect] = await Promise.all([
      startRegistry(),
      startRegistry(),
      startRegistry(),
      startRegistry(),
    ]);
    regs.push(src, dstKiln, dstSkopeo, dstDirect);
    const { ref, imageBytes } = await pushImage(src.host, 'ml/bench');
    const pinned = ref.replace(':v1@', '@');
    await kiln(['sign', pinned, '--key', 'k.key']);
    await kiln(['attest', pinned, '--key', 'k.key', '--predicate', 'predicate.json']);
    const tar = join(work.path, `kiln-${i}.tar`);
    const skTar = join(work.path, `skopeo-${i}.tar`);
    const exp = await timed(process.execPath, [KILN_MAIN, 'export', ref, '--to', tar], {
      env,
      cwd: work.path,
    });
    const skExp = await timed(
      'skopeo',
      ['copy', '--quiet', '--all', '--src-tls-verify=false', `docker://${pinned}`, `oci-archive:${skTar}`],
      { env, cwd: work.path },
    );
    const imp = await timed(
      process.execPath,
      [
        KILN_MAIN,
        'import',
        tar,
        '--to',
        `${dstKiln.host}/air`,
        '--key',
        'k.pub',
        '--manifests',
        join(work.path, `deploy-${i}`),
      ],
      { env, cwd: work.path },
    );
    const skImp = await timed(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--all',
        '--dest-tls-verify=false',
        `oci-archive:${tar}:${src.host}/ml/bench@${pinned.split('@')[1]}`,
        `docker://${dstSkopeo.host}/air/ml/bench:v1`,
      ],
      { env, cwd: work.path },
    );
    // The connected case for scale: registry to registry, no archive at all.
    const direct = await timed(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--all',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${pinned}`,
        `docker://${dstDirect.host}/air/ml/bench:v1`,
      ],
      { env, cwd: work.path },
    );
    const archive = (await stat(tar)).size;
    const skArchive = (await stat(skTar)).size;
    rows.push(
      `run ${i}: export ${exp.seconds.toFixed(2)} s ${mbps(imageBytes, exp)} MB/s RSS ${exp.peakMiB.toFixed(0)} MiB | ` +
        `skopeo docker->oci-archive ${skExp.seconds.toFixed(2)} s ${mbps(imageBytes, skExp)} MB/s | ` +
        `import ${imp.seconds.toFixed(2)} s ${mbps(imageBytes, imp)} MB/s RSS ${imp.peakMiB.toFixed(0)} MiB | ` +
        `skopeo oci-archive->docker ${skImp.seconds.toFixed(2)} s ${mbps(imageBytes, skImp)} MB/s RSS ${skImp.peakMiB.toFixed(0)} MiB | ` +
        `import/skopeo throughput ${(skImp.seconds / imp.seconds).toFixed(2)} | ` +
        `skopeo docker->docker ${direct.seconds.toFixed(2)} s ${mbps(imageBytes, direct)} MB/s (import/that ${(direct.seconds / imp.seconds).toFixed(2)}) | ` +
        `archive ${archive} B = image ${imageBytes} B + ${archive - imageBytes} B (${(((archive - imageBytes) / imageBytes) * 100).toFixed(3)}%), skopeo's archive ${skArchive} B`,
    );
    process.stderr.write(`${rows[rows.length - 1]}\n`);
    await Promise.all([src.stop(), dstKiln.stop(), dstSkopeo.stop(), dstDirect.stop()]);
    await run('rm', ['-f', tar, skTar]);
  }
  console.log(rows.join('\n'));
} finally {
  await Promise.all(regs.map((r) => r.stop().catch(() => {})));
  await work.remove();
}
