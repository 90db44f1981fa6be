// Host-side plumbing of the containerd rig (test/rig/containerd.ts): running a container as a
// given uid with ctr 1.6, and cleaning up after a crashed run.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.ts';

/**
 * ctr 1.6 has no `--user` (1.7 added it) and its `--config` spec file excludes an image, so the uid
 * is set where Kubernetes sets it, in the runtime spec: `--runc-binary` points the shim at this
 * wrapper, which copies the `kiln.rig/run-as` annotation (`uid[:gid]`) into `process.user` of the
 * bundle's config.json before `runc create`.
 */
export const RUN_AS_ANNOTATION = 'kiln.rig/run-as';

export async function writeRuncWrapper(dir: string): Promise<string> {
  const runc = (await run('sh', ['-c', 'command -v runc'])).stdout.trim();
  const editor = join(dir, 'run-as.cjs');
  await writeFile(
    editor,
    `const fs = require('node:fs');
const file = process.argv[2];
const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
const want = spec.annotations && spec.annotations[${JSON.stringify(RUN_AS_ANNOTATION)}];
if (want) {
  const [uid, gid] = want.split(':').map(Number);
  spec.process.user.uid = uid;
  if (gid !== undefined) spec.process.user.gid = gid;
  spec.process.user.additionalGids = [spec.process.user.gid];
  fs.writeFileSync(file, JSON.stringify(spec));
}
`,
  );
  const wrapper = join(dir, 'runc-run-as');
  await writeFile(
    wrapper,
    `#!/bin/sh
bundle=; prev=
for a in "$@"; do [ "$prev" = --bundle ] && bundle="$a"; prev="$a"; done
if [ -n "$bundle" ]; then '${process.execPath}' '${editor}' "$bundle/config.json" || exit 1; fi
exec '${runc}' "$@"
`,
  );
  await chmod(wrapper, 0o755);
  return wrapper;
}

/** Overlay/bind mounts containerd left under `dir` (only after a crash): rm -rf must not walk into them. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((p) => p.startsWith(`${dir}/`)).reverse()) {
    await run('umount', ['-l', m]).catch(() => {});
  }
}
