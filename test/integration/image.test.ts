// kiln's own image, built by scripts/image with kiln's OCI code (no Docker): reproducible (two
// builds, one digest), non-root, no shell, and it runs: containerd pulls it from a real registry
// and `kiln --version` answers as uid 65532.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ContainerdRig, startContainerd } from '../rig/containerd.ts';
import { REPO_ROOT, run, tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';
import { startAll } from '../rig/start-all.ts';

let registry: RegistryRig;
let ctrd: ContainerdRig;
let work: { path: string; remove: () => Promise<void> };
const built: string[] = [];

before(async () => {
  ({ registry, ctrd, work } = await startAll({
    registry: startRegistry(),
    ctrd: startContainerd(),
    work: tempDir('image'),
  }));
  // Two builds of the same commit into two layouts (sequential: each runs tsc and npm ci).
  for (const out of ['a', 'b']) {
    const res = await run(join(REPO_ROOT, 'scripts', 'image'), [`oci:${join(work.path, out)}:test`], {
      env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
    });
    built.push(res.stdout.trim());
  }
});
after(async () => {
  await Promise.all([registry?.stop(), ctrd?.stop()]);
  await work?.remove();
});

const digestOf = (pinned: string) => pinned.slice(pinned.lastIndexOf('@') + 1);
const version = async () => JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).version;

test('two builds of the same commit give the same digest', () => {
  assert.match(built[0] ?? '', /@sha256:[0-9a-f]{64}$/);
  assert.equal(digestOf(built[0]!), digestOf(built[1]!));
});

test('the image runs kiln as a non-root user without a shell', async () => {
  const ref = `${registry.host}/kiln/kiln:test`;
  await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    `oci:${join(work.path, 'a')}:test`,
    `docker://${ref}`,
  ]);
  const pinned = `${registry.host}/kiln/kiln@${digestOf(built[0]!)}`;
  await ctrd.pull(pinned);
  const cfg = await ctrd.imageConfig(pinned);
  assert.equal(cfg.config?.User, '65532:65532');
  assert.deepEqual(cfg.config?.Entrypoint, ['/usr/local/bin/kiln']);
  const v = await ctrd.run(pinned, ['/usr/local/bin/kiln', '--version']);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.equal(v.stdout.trim(), await version());
  const id = await ctrd.run(pinned, ['/usr/local/bin/node', '-p', 'process.getuid()']);
  assert.equal(id.stdout.trim(), '65532');
  const shell = await ctrd.run(pinned, ['/bin/sh', '-c', 'true']);
  assert.notEqual(shell.exitCode, 0, 'there is no shell in the image');
});
