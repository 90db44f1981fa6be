// A real Debian `docker-registry` (distribution 2.8.x) on a free loopback port, optionally with
// htpasswd basic auth (distribution accepts bcrypt entries only, hence `htpasswd -B`).
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, run, type Service, startService, tempDir, toolPath } from './proc.ts';

export interface RegistryRig {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  url: string;
  dir: string;
  auth: { username: string; password: string } | undefined;
  service: Service;
  stop(): Promise<void>;
}

export async function startRegistry(
  opts: { auth?: { username: string; password: string } } = {},
): Promise<RegistryRig> {
  const dir = await tempDir('registry');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authBlock = '';
  if (opts.auth) {
    const { stdout } = await run('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password]);
    await writeFile(join(dir.path, 'htpasswd'), stdout);
    authBlock = `auth:\n  htpasswd:\n    realm: kiln-test\n    path: ${join(dir.path, 'htpasswd')}\n`;
  }
  const config = join(dir.path, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir.path, 'data')}
  delete:
    enabled: true
http:
  addr: ${host}
  secret: kiln-test-secret
${authBlock}`,
  );
  const service = await startService({
    name: `docker-registry ${host}`,
    cmd: 'docker-registry',
    args: ['serve', config],
    logFile: join(dir.path, 'registry.log'),
    // /v2/ answers 200 (anonymous) or 401 (auth on): either way the registry is serving.
    ready: async () => {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.status === 200 || res.status === 401;
    },
    timeoutMs: 30_000,
  });
  return {
    host,
    url: `http://${host}`,
    dir: dir.path,
    auth: opts.auth,
    service,
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}

/**
 * A registry WITH the OCI 1.1 referrers API: go-containerregistry's pkg/registry behind
 * test/rig/go/referrers-registry (built by `scripts/setup go`). Same shape as startRegistry's,
 * without auth. Its deviations from the spec are listed in that main.go.
 */
export async function startReferrersRegistry(): Promise<RegistryRig> {
  const bin = toolPath('kiln-referrers-registry');
  await access(bin).catch(() => {
    throw new Error(`${bin} is missing: run ./scripts/setup go (it builds test/rig/go/referrers-registry)`);
  });
  const dir = await tempDir('referrers-registry');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const service = await startService({
    name: `kiln-referrers-registry ${host}`,
    cmd: bin,
    args: ['-addr', host, '-blobs', join(dir.path, 'blobs')],
    logFile: join(dir.path, 'registry.log'),
    ready: async () => {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.status === 200;
    },
    timeoutMs: 15_000,
  });
  return {
    host,
    url: `http://${host}`,
    dir: dir.path,
    auth: undefined,
    service,
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}
