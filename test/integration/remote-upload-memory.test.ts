// The upload pulls its source with backpressure: pushing 1 GiB must not grow memory anywhere near
// the blob's size (fetch with a streamed body buffered all of it: FIELD-NOTES, 1.17 GB RSS).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from '../../src/oci/remote/index.ts';
import { randomStream } from '../rig/random.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

const GIB = 1 << 30;
let rig: RegistryRig;
before(async () => {
  rig = await startRegistry();
});
after(async () => {
  await rig?.stop();
});

test('a 1 GiB streamed upload keeps peak RSS growth under 150 MiB and lands with the right digest', async (t) => {
  const registry = new Registry(rig.host);
  const source = randomStream(GIB, 64 * 1024);
  const before = process.resourceUsage().maxRSS; // KiB
  const pushed = await registry.uploadBlobStream('ml/huge', source.stream);
  const growthMiB = (process.resourceUsage().maxRSS - before) / 1024;
  t.diagnostic(
    `peak RSS growth ${growthMiB.toFixed(0)} MiB (peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`,
  );
  assert.equal(pushed.digest, source.digest());
  assert.equal(pushed.size, GIB);
  assert.deepEqual(await registry.headBlob('ml/huge', pushed.digest), { size: GIB });
  // What is left is V8 collecting spent 64 KiB Buffers lazily; a buffered body would add ~1024 MiB.
  assert.ok(growthMiB < 150, `peak RSS grew by ${growthMiB.toFixed(0)} MiB during a 1 GiB upload`);
});
