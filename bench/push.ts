// Push a large random (incompressible, like model weights) blob to a registry in one streamed
// PATCH and report throughput and peak RSS. Without --registry it starts the test rig's Debian
// docker-registry on loopback, so the figure is the client + registry on this machine.
//   node bench/push.ts [--size-mib 1024] [--chunk-kib 64] [--registry HOST:PORT] [--repo bench/push]
// Chunks default to 64 KiB, what fs and http sources deliver. Part of the RSS growth is V8 collecting
// spent Buffers lazily (external memory triggers a GC only past a threshold), not data held.
import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Registry } from '../src/oci/remote/index.ts';
import { type RegistryRig, startRegistry } from '../test/rig/registry.ts';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'chunk-kib': { type: 'string', default: '64' },
    registry: { type: 'string' },
    repo: { type: 'string', default: 'bench/push' },
  },
});
const size = Number(values['size-mib']) * 1024 * 1024;
const chunk = Number(values['chunk-kib']) * 1024;
const mb = (kb: number): number => Math.round(kb / 1024);

/** Fresh random chunks on demand: nothing is held beyond what backpressure allows. */
function randomSource(total: number): Readable {
  let left = total;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (left === 0) return void this.push(null);
      const bytes = randomFillSync(Buffer.allocUnsafe(Math.min(chunk, left)));
      left -= bytes.length;
      this.push(bytes);
    },
  });
}

const rig: RegistryRig | undefined = values.registry ? undefined : await startRegistry();
try {
  const host = values.registry ?? rig!.host;
  const registry = new Registry(host);
  const rssBefore = process.resourceUsage().maxRSS;
  const started = process.hrtime.bigint();
  const result = await registry.uploadBlobStream(values.repo, randomSource(size));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peak = process.resourceUsage().maxRSS;
  const stored = await registry.headBlob(values.repo, result.digest);
  if (stored?.size !== size) throw new Error(`registry holds ${stored?.size} bytes, expected ${size}`);
  const mbps = size / 1e6 / seconds;
  console.error(
    `pushed ${size / 2 ** 20} MiB to ${host}/${values.repo} in ${seconds.toFixed(2)} s: ` +
      `${mbps.toFixed(0)} MB/s, peak RSS ${mb(peak)} MiB (${mb(rssBefore)} MiB before the upload)`,
  );
  console.log(
    JSON.stringify({
      bytes: size,
      seconds: Number(seconds.toFixed(3)),
      mbPerSecond: Number(mbps.toFixed(1)),
      peakRssMiB: mb(peak),
      rssBeforeMiB: mb(rssBefore),
      digest: result.digest,
    }),
  );
} finally {
  await rig?.stop();
}
