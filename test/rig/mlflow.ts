// A real MLflow tracking server for tests, and fixture model versions logged into it.
// One server per test file: `startMlflow()` in `before`, `rig.stop()` in `after`.
//
// Start-up is kept low in three ways (measured in the commit that added this file):
// - the SQLite database is copied from a template made once per MLflow version (a fresh database
//   otherwise spends ~5-8 s in alembic migrations on every start);
// - MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: no job runner and its seven huey consumer processes;
// - one uvicorn worker (`--workers 1`; webhooks also need it, see FIELD-NOTES).
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  freePort,
  httpOk,
  PYTHON,
  REPO_ROOT,
  run,
  type Service,
  startService,
  TOOLS_DIR,
  tempDir,
} from './proc.ts';

export interface MlflowRig {
  url: string;
  dir: string;
  service: Service;
  stop(): Promise<void>;
}

/** Environment for every MLflow python process the rig starts (server and fixture scripts). */
const QUIET_ENV = {
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
};

/** `dir`: keep the server's database and artifacts there across runs (the demo); default a temp dir. */
export async function startMlflow(opts: { env?: NodeJS.ProcessEnv; dir?: string } = {}): Promise<MlflowRig> {
  const tmp = opts.dir ? { path: opts.dir, remove: async () => {} } : await tempDir('mlflow');
  const dir = tmp.path;
  try {
    await mkdir(dir, { recursive: true });
    if (!existsSync(join(dir, 'mlflow.db'))) await copyFile(await templateDb(), join(dir, 'mlflow.db'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const service = await startService({
      name: 'mlflow',
      cmd: PYTHON,
      args: [
        ...['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
        ...['--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`],
        ...['--artifacts-destination', join(dir, 'artifacts')],
      ],
      env: { ...process.env, ...QUIET_ENV, ...opts.env },
      cwd: dir,
      logFile: join(dir, 'server.log'),
      ready: () => httpOk(`${url}/health`),
      timeoutMs: 120_000, // a loaded 2-core machine has been seen taking ~30 s
    });
    return {
      url,
      dir,
      service,
      async stop() {
        await service.stop();
        await tmp.remove();
      },
    };
  } catch (e) {
    await tmp.remove();
    throw e;
  }
}

/** The schema-complete database for this venv's MLflow, made once (atomically) and then copied. */
async function templateDb(): Promise<string> {
  const path = join(TOOLS_DIR, 'mlflow-template', `mlflow-${mlflowVersion()}.db`);
  if (existsSync(path)) return path;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await run(PYTHON, [join(REPO_ROOT, 'test', 'rig', 'python', 'init_db.py'), tmp], {
    env: { ...process.env, ...QUIET_ENV },
  });
  await rename(tmp, path); // concurrent test files may race here; rename is atomic, last one wins
  return path;
}

/** MLflow's version from the venv's dist-info directory name (no python start needed). */
function mlflowVersion(): string {
  const lib = join(dirname(dirname(PYTHON)), 'lib');
  for (const py of readdirSync(lib)) {
    const site = join(lib, py, 'site-packages');
    if (!existsSync(site)) continue;
    for (const entry of readdirSync(site)) {
      const m = /^mlflow-(.+)\.dist-info$/.exec(entry);
      if (m?.[1]) return m[1];
    }
  }
  throw new Error(`mlflow is not installed in ${lib}: run scripts/setup py`);
}

export interface FixtureFile {
  /** Relative to the model directory, posix separators. */
  path: string;
  size: number;
  sha256: string;
}

export interface FixtureModel {
  name: string;
  version: string;
  alias: string | undefined;
  runId: string;
  source: string;
  files: FixtureFile[];
}

/**
 * How the version's `source` is recorded: an MLflow 3 LoggedModel (`models:/m-<id>`, what
 * `log_model` does today), a run artifact path (`runs:/<run>/model`, MLflow 2 style) or the
 * run's artifact URI itself (`mlflow-artifacts:/<exp>/<run>/artifacts/model`).
 */
export type SourceKind = 'logged-model' | 'run' | 'artifact-uri';

/** Extra facts the rig knows about a fixture (FixtureModel stays the stable shared shape). */
export interface LoggedFixture extends FixtureModel {
  sourceKind: SourceKind;
  /** The version's model directory on the server's disk (inside rig.dir). */
  modelDir: string;
}

export interface SklearnFixture extends LoggedFixture {
  /** Iris rows and the model's predictions for them, to compare a served model's answers with. */
  sample: { instances: number[][]; predictions: number[] };
}

interface ScriptOutput {
  version: string;
  run_id: string;
  source: string;
  model_dir: string;
  sample: { instances: number[][]; predictions: number[] };
}

/** One fixture version: a tiny iris classifier, or with `sizeBytes` a random model.pkl of that size. */
export interface FixtureSpec {
  name: string;
  alias?: string;
  sourceKind?: SourceKind;
  /** Replace model.pkl with exactly this many pseudo-random bytes (see logRandomModel). */
  sizeBytes?: number;
  /** Makes the random bytes reproducible. */
  seed?: string;
  /** A bad canary for the analysis tests (fixture_model.py VARIANTS): flaky (errors), slow, other (answers differ). */
  variant?: 'flaky' | 'slow' | 'other';
  /** Log the sample rows as MLflow's input example (input_example.json beside model.pkl). */
  inputExample?: boolean;
}

/**
 * Several fixture versions with ONE python process (each process spends seconds importing
 * mlflow and scikit-learn): prefer this in `before` when a test file needs more than one.
 * Versions are created in order, so versions of one name are numbered as listed.
 */
export async function logModels(
  rig: MlflowRig,
  specs: FixtureSpec[],
): Promise<Array<LoggedFixture & Partial<SklearnFixture>>> {
  const input = {
    tracking_uri: rig.url,
    artifacts_root: join(rig.dir, 'artifacts'),
    // A random model's alias is set by the rig once the big file is complete.
    models: specs.map((s) => ({
      name: s.name,
      alias: s.sizeBytes === undefined ? s.alias : undefined,
      source_kind: s.sourceKind ?? 'logged-model',
      ...(s.variant ? { variant: s.variant } : {}),
      ...(s.inputExample ? { input_example: true } : {}),
    })),
  };
  const script = join(REPO_ROOT, 'test', 'rig', 'python', 'fixture_model.py');
  const { stdout } = await run(PYTHON, [script, JSON.stringify(input)], {
    env: { ...process.env, ...QUIET_ENV },
  });
  const marker = 'KILN_FIXTURE_JSON ';
  const outs = stdout
    .split('\n')
    .filter((l) => l.startsWith(marker))
    .map((l) => JSON.parse(l.slice(marker.length)) as ScriptOutput);
  if (outs.length !== specs.length)
    throw new Error(`fixture_model.py printed ${outs.length} results:\n${stdout}`);
  const fixtures: Array<LoggedFixture & Partial<SklearnFixture>> = [];
  for (const [i, spec] of specs.entries()) {
    const out = outs[i] as ScriptOutput;
    const known = new Map<string, FixtureFile>();
    if (spec.sizeBytes !== undefined) {
      known.set(
        'model.pkl',
        await writeRandomFile(join(out.model_dir, 'model.pkl'), spec.sizeBytes, spec.seed),
      );
      if (spec.alias) await setAlias(rig, spec.name, spec.alias, out.version);
    }
    fixtures.push({
      name: spec.name,
      version: out.version,
      alias: spec.alias,
      runId: out.run_id,
      source: out.source,
      sourceKind: spec.sourceKind ?? 'logged-model',
      modelDir: out.model_dir,
      files: await hashTree(out.model_dir, known),
      // the sample answers belong to the classifier, not to a random model.pkl
      ...(spec.sizeBytes === undefined ? { sample: out.sample } : {}),
    });
  }
  return fixtures;
}

/** A tiny iris classifier (cloudpickle `model.pkl`), registered under `name` (a new version each call). */
export async function logSklearnModel(
  rig: MlflowRig,
  opts: { name: string; alias?: string; sourceKind?: SourceKind },
): Promise<SklearnFixture> {
  const [fixture] = await logModels(rig, [opts]);
  return fixture as SklearnFixture;
}

/**
 * A version whose `model.pkl` is exactly `sizeBytes` pseudo-random bytes (AES-256-CTR keystream,
 * incompressible, streamed to disk: 1 GiB+ never sits in memory). MLflow writes the rest of the
 * model directory (MLmodel, requirements...); the big file replaces the logged model.pkl on the
 * server's artifact store directly, so it is not uploaded twice (MLmodel's model_size_bytes is
 * left as MLflow wrote it). The alias is set only once the file is complete.
 */
export async function logRandomModel(
  rig: MlflowRig,
  opts: { name: string; sizeBytes: number; alias?: string; sourceKind?: SourceKind; seed?: string },
): Promise<LoggedFixture> {
  const [fixture] = await logModels(rig, [opts]);
  return fixture as LoggedFixture;
}

export async function setAlias(rig: MlflowRig, name: string, alias: string, version: string): Promise<void> {
  const res = await fetch(`${rig.url}/api/2.0/mlflow/registered-models/alias`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, alias, version }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`setting alias ${name}@${alias} -> ${version} failed: ${res.status} ${text}`);
}

async function writeRandomFile(path: string, size: number, seed?: string): Promise<FixtureFile> {
  const key = seed === undefined ? randomBytes(32) : createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(1 << 20);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let left = size; left > 0; left -= zeros.length) {
      const chunk = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return { path: 'model.pkl', size, sha256: hash.digest('hex') };
}

/** Every file under `root`, sorted by path in byte order (what kiln's listing promises). */
async function hashTree(root: string, known = new Map<string, FixtureFile>()): Promise<FixtureFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: FixtureFile[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = relative(root, join(e.parentPath, e.name)).split(sep).join('/');
    const done = known.get(path);
    if (done) {
      files.push(done);
      continue;
    }
    const hash = createHash('sha256');
    await pipeline(createReadStream(join(root, path)), hash);
    files.push({ path, size: (await stat(join(root, path))).size, sha256: hash.digest('hex') });
  }
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
