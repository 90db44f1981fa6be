// The containerd rig runs images pulled from a real registry: the ground under every "containerd
// pulls it and runs it" test of kiln's bake.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ContainerdRig, startContainerd } from '../rig/containerd.ts';
import { type PushedImage, pushBusyboxBase, pushBusyboxMulti } from '../rig/images.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

describe('containerd rig', () => {
  let registry: RegistryRig;
  let containerd: ContainerdRig;
  let busybox: PushedImage;

  before(async () => {
    registry = await startRegistry();
    containerd = await startContainerd();
    busybox = await pushBusyboxBase(registry);
    await containerd.pull(busybox.ref);
  });
  after(async () => {
    await containerd?.stop();
    await registry?.stop();
  });

  it('runs the pushed busybox base by digest and returns its output', async () => {
    const res = await containerd.run(busybox.ref, ['sh', '-c', 'echo hello; id -u']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stdout, 'hello\n0\n');
  });

  it('runs as the uid it is given (KServe runtimes run as 1000)', async () => {
    const res = await containerd.run(
      busybox.ref,
      ['sh', '-c', 'id -u; id -g; touch /tmp/x && echo writable'],
      {
        user: '1000:1000',
      },
    );
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stdout, '1000\n1000\nwritable\n');
  });

  it('passes env vars and reports a non-zero exit code', async () => {
    const res = await containerd.run(busybox.ref, ['sh', '-c', 'echo "$GREETING"; exit 7'], {
      env: { GREETING: 'from kiln' },
    });
    assert.equal(res.exitCode, 7);
    assert.equal(res.stdout, 'from kiln\n');
  });

  it('has the modelcar tools and no entrypoint: the image default is a shell', async () => {
    const config = await containerd.imageConfig(busybox.ref);
    assert.equal(config.config?.Entrypoint, undefined);
    assert.deepEqual(config.config?.Cmd, ['sh']);
    // What KServe's modelcar sidecar does: link its root into a shared dir, then sleep.
    const res = await containerd.run(busybox.ref, [
      'sh',
      '-c',
      'for t in sh ln sleep sha256sum cat ls; do [ -x /bin/$t ] || echo "missing $t"; done; ' +
        'ln -s /proc/$$/root/bin /tmp/root-bin && ls /tmp/root-bin/sleep && echo -n abc | sha256sum',
    ]);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(
      res.stdout,
      '/tmp/root-bin/sleep\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n',
    );
  });

  it('keeps a detached container running until stopped', async () => {
    const c = await containerd.runDetached(busybox.ref, 'sleeper', ['sh', '-c', 'echo up; exec sleep 600']);
    for (let i = 0; i < 50 && !(await c.logTail()).includes('up'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(await c.logTail(), /up/);
    const started = Date.now();
    await c.stop();
    assert.ok(Date.now() - started < 8000, 'stop() ends the container within the grace period');
    assert.notEqual(await c.exited, 0);
  });

  it('pulls the linux/amd64 image out of a multi-platform index and runs it', async () => {
    const multi = await pushBusyboxMulti(registry);
    await containerd.pull(multi.ref);
    const res = await containerd.run(multi.ref, ['uname', '-m']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stdout, 'x86_64\n');
  });
});
