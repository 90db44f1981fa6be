// `node test/rig/images/build.ts [busybox] [sklearn]`: builds the rig's base images into
// ~/.cache/kiln/images/ unless already built from the same inputs. Run by `scripts/setup images`.
import { ensureBusyboxLayouts } from './busybox.ts';
import { ensureSklearnRuntime } from './sklearn-runtime.ts';

const log = (line: string) => process.stderr.write(`[kiln setup] ${line}\n`);
const wanted = process.argv.slice(2);
const want = (name: string) => wanted.length === 0 || wanted.includes(name);

if (want('busybox')) {
  const { single, multi } = await ensureBusyboxLayouts();
  log(`busybox base: ${single}, ${multi}`);
}
if (want('sklearn')) {
  const started = Date.now();
  const { dir, digest, built } = await ensureSklearnRuntime(log);
  const took = built ? ` (built in ${Math.round((Date.now() - started) / 1000)} s)` : '';
  log(`sklearn runtime: ${dir} ${digest}${took}`);
}
