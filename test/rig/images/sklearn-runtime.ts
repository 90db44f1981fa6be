// The real serving runtime for the scikit-learn fixture model, built without a container engine:
// debootstrap (Debian bookworm minbase + python3) -> layer 1; pip scikit-learn + kserve SDK +
// test/rig/images/sklearn_server.py -> layer 2. Slow (minutes), so cached per machine and built by
// `scripts/setup images`. scikit-learn MUST equal the fixture's (a pickle is only loadable by the
// version that wrote it): both come from KILN_SKLEARN_VERSION in scripts/lib.sh.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, run, tempDir } from '../proc.ts';
import { cachedLayout, IMAGES_DIR } from './cache.ts';
import { finishLayout, MT_CONFIG, MT_MANIFEST, manifestOf, packLayer, putJson } from './layout.ts';
import { debianMirror } from './mirror.ts';

export const SKLEARN_RUNTIME_LAYOUT = join(IMAGES_DIR, 'sklearn-runtime');
export const SKLEARN_RUNTIME_ENTRYPOINT = ['python3', '/opt/kiln-runtime/sklearn_server.py'];
/**
 * Default args, as KServe's sklearnserver gets them. KServe's controller passes its own
 * `--model_name`, `--model_dir` and `--http_port`; the kserve SDK also opens gRPC on 8081 unless
 * `--grpc_port=N` / `--enable_grpc=false` (tests on the host network must pass a free port).
 */
export const SKLEARN_RUNTIME_ARGS = ['--model_dir=/mnt/models', '--http_port=8080'];
export const SKLEARN_RUNTIME_USER = '1000';
/** pip runs from its own wheel inside the image's root; bump with care (it must support python 3.11). */
const PIP_VERSION = '26.3';
const HERE = import.meta.dirname;
const SOURCES = ['sklearn-runtime.sh', 'sklearn_server.py', 'sklearn-runtime.ts', 'layout.ts'];

export async function runtimePins(): Promise<{ sklearn: string; kserve: string; pip: string }> {
  const lib = await readFile(join(REPO_ROOT, 'scripts', 'lib.sh'), 'utf8');
  const pin = (name: string): string => {
    const m = new RegExp(`^${name}=(\\S+)`, 'm').exec(lib);
    if (!m?.[1]) throw new Error(`scripts/lib.sh has no ${name}=`);
    return m[1];
  };
  return { sklearn: pin('KILN_SKLEARN_VERSION'), kserve: pin('KILN_KSERVE_VERSION'), pip: PIP_VERSION };
}

export async function ensureSklearnRuntime(
  log: (line: string) => void = () => {},
): Promise<{ dir: string; digest: string; built: boolean }> {
  const pins = await runtimePins();
  const hash = createHash('sha256').update(JSON.stringify(pins));
  for (const f of SOURCES) hash.update(await readFile(join(HERE, f)));
  const { dir, stamp, built } = await cachedLayout('sklearn-runtime', hash.digest('hex'), (tmp) =>
    build(tmp, pins, log),
  );
  return { dir, digest: String(stamp['digest']), built };
}

async function build(
  layoutDir: string,
  pins: Awaited<ReturnType<typeof runtimePins>>,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const work = await tempDir('sklearn-runtime');
  const rootfs = join(work.path, 'rootfs');
  const script = join(HERE, 'sklearn-runtime.sh');
  try {
    const mirror = await debianMirror();
    const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    let t = Date.now();
    log(`debootstrap --variant=minbase --include=python3 bookworm from ${mirror}`);
    await run(script, ['base', rootfs, mirror]);
    const base = await packLayer(layoutDir, rootfs, (await readdir(rootfs)).sort());
    const baseSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    const wheel = await pipWheel(pins.pip, work.path);
    const pkgs = [`scikit-learn==${pins.sklearn}`, `kserve==${pins.kserve}`, 'cloudpickle'];
    log(`pip install ${pkgs.join(' ')} into the image`);
    const { stdout: smoke } = await run(script, ['python', rootfs, wheel, ...pkgs]);
    const py = await packLayer(layoutDir, rootfs, [{ norecurse: 'usr' }, 'usr/local', 'opt']);
    const pySeconds = (Date.now() - t) / 1000;
    const installed = await readFile(join(rootfs, 'opt', 'kiln-runtime', 'installed.txt'), 'utf8');
    const config = await putJson(layoutDir, MT_CONFIG, {
      created,
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: SKLEARN_RUNTIME_USER,
        Env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          'LANG=C.UTF-8',
          'PYTHONUNBUFFERED=1',
        ],
        Entrypoint: SKLEARN_RUNTIME_ENTRYPOINT,
        Cmd: SKLEARN_RUNTIME_ARGS,
        WorkingDir: '/home/kserve',
        ExposedPorts: { '8080/tcp': {} },
        Labels: {
          'org.opencontainers.image.title': 'kiln test rig: scikit-learn KServe runtime',
          'dev.kiln.rig.sklearn-version': pins.sklearn,
          'dev.kiln.rig.kserve-version': pins.kserve,
        },
      },
      rootfs: { type: 'layers', diff_ids: [base.diffId, py.diffId] },
      history: [
        { created, created_by: `debootstrap --variant=minbase --include=python3 bookworm ${mirror}` },
        { created, created_by: `pip install ${pkgs.join(' ')}; COPY sklearn_server.py /opt/kiln-runtime/` },
      ],
    });
    const manifest = await putJson(layoutDir, MT_MANIFEST, manifestOf(config, [base.desc, py.desc]));
    await finishLayout(layoutDir, { ...manifest, platform: { architecture: 'amd64', os: 'linux' } });
    return {
      digest: manifest.digest,
      pins,
      layers: [
        { digest: base.desc.digest, size: base.desc.size },
        { digest: py.desc.digest, size: py.desc.size },
      ],
      stageSeconds: { debianBase: baseSeconds, python: pySeconds },
      rootfsBytes: await du(rootfs),
      smoke: smoke.trim(),
      installed: installed.trim().split('\n'),
    };
  } finally {
    await rm(work.path, { recursive: true, force: true });
  }
}

/**
 * pip's own wheel from PyPI's simple index (PEP 691 JSON; sha256 checked). Not the venv's pip:
 * `scripts/setup` builds images before the venv exists, and the host's python may have no pip.
 * (The legacy `/pypi/NAME/VERSION/json` API is not reachable from every sandbox; the simple API is
 * what pip itself uses.)
 */
async function pipWheel(version: string, dir: string): Promise<string> {
  const index = process.env['PIP_INDEX_URL']?.replace(/\/+$/, '') ?? 'https://pypi.org/simple';
  const res = await fetch(`${index}/pip/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (!res.ok) throw new Error(`GET ${index}/pip/ answered ${res.status}`);
  const meta = (await res.json()) as {
    files: Array<{ filename: string; url: string; hashes: { sha256: string } }>;
  };
  const file = meta.files.find((f) => f.filename === `pip-${version}-py3-none-any.whl`);
  if (!file) throw new Error(`${index} lists no wheel for pip ${version}`);
  const bytes = Buffer.from(await (await fetch(new URL(file.url, `${index}/pip/`))).arrayBuffer());
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== file.hashes.sha256)
    throw new Error(`${file.filename}: sha256 ${sha}, the index says ${file.hashes.sha256}`);
  const path = join(dir, file.filename);
  await writeFile(path, bytes);
  return path;
}

async function du(path: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', path]);
  return Number(stdout.split('\t')[0]);
}
