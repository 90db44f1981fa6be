// kiln's MLflow client against a real MLflow server: resolving, listing and streaming model files
// for every kind of version source MLflow 3 produces, and the errors users meet.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.ts';
import {
  getModelVersion,
  listModelFiles,
  MlflowClient,
  type ModelVersionInfo,
  openModelFile,
  parseModelUri,
  resolveModelVersion,
  setModelVersionTag,
} from '../../src/mlflow/index.ts';
import {
  type LoggedFixture,
  logModels,
  type MlflowRig,
  type SklearnFixture,
  setAlias,
  startMlflow,
} from '../rig/mlflow.ts';

describe('MLflow client against a real server', () => {
  let rig: MlflowRig;
  let client: MlflowClient;
  let logged: SklearnFixture; // iris v1, models:/m-<id> source, alias champion
  let fromRun: SklearnFixture; // iris v2, runs:/<run>/model source
  let fromUri: LoggedFixture; // big v1, mlflow-artifacts:/ source, 3 MiB random model.pkl
  let nested: LoggedFixture; // nested v1, gets extra files in subdirectories

  before(async () => {
    rig = await startMlflow();
    client = new MlflowClient({ trackingUri: rig.url });
    const fixtures = await logModels(rig, [
      { name: 'iris', alias: 'champion' },
      { name: 'iris', sourceKind: 'run' },
      { name: 'big', sizeBytes: 3 << 20, sourceKind: 'artifact-uri', alias: 'prod' },
      { name: 'nested' },
    ]);
    [logged, fromRun, fromUri, nested] = fixtures as [
      SklearnFixture,
      SklearnFixture,
      LoggedFixture,
      LoggedFixture,
    ];
  });
  after(async () => {
    await rig?.stop();
  });

  const resolve = (uri: string): Promise<ModelVersionInfo> => resolveModelVersion(client, parseModelUri(uri));
  const sha256 = async (info: ModelVersionInfo, path: string, size: number): Promise<string> => {
    const hash = createHash('sha256');
    for await (const chunk of openModelFile(client, info, { path, size })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  };

  it('resolves an alias to its version, with the source, run, logged model id and creation time', async () => {
    const before = Date.now();
    const info = await resolve('models:/iris@champion');
    assert.equal(info.name, 'iris');
    assert.equal(info.version, logged.version);
    assert.equal(info.alias, 'champion');
    assert.equal(info.source, logged.source);
    assert.equal(info.runId, logged.runId);
    assert.equal(info.modelId, logged.source.slice('models:/'.length)); // parsed from the source
    assert.equal(info.status, 'READY');
    assert.ok(info.createdAt.getTime() > before - 3_600_000 && info.createdAt.getTime() <= Date.now());
  });

  it('resolves an explicit version', async () => {
    const info = await resolve(`models:/iris/${fromRun.version}`);
    assert.equal(info.version, '2');
    assert.equal(info.alias, undefined);
    assert.match(info.source, /^runs:\//);
    assert.equal(info.modelId, undefined);
  });

  it('follows an alias when it moves', async () => {
    await setAlias(rig, 'iris', 'challenger', logged.version);
    assert.equal((await resolve('models:/iris@challenger')).version, logged.version);
    await setAlias(rig, 'iris', 'challenger', fromRun.version);
    assert.equal((await resolve('models:/iris@challenger')).version, fromRun.version);
  });

  for (const [label, fixture] of [
    ['a logged-model (models:/m-<id>) version', () => logged],
    ['a runs:/<run>/model version', () => fromRun],
    ['an mlflow-artifacts:/ version', () => fromUri],
  ] as const) {
    it(`lists every file of ${label}, sorted, with sizes`, async () => {
      const f = fixture();
      const info = await resolve(`models:/${f.name}/${f.version}`);
      const files = await listModelFiles(client, info);
      assert.deepEqual(
        files,
        f.files.map(({ path, size }) => ({ path, size })),
      );
      assert.ok(files.some((x) => x.path === 'model.pkl'));
      assert.ok(files.some((x) => x.path === 'MLmodel'));
    });

    it(`downloads model.pkl of ${label} byte for byte`, async () => {
      const f = fixture();
      const info = await resolve(`models:/${f.name}/${f.version}`);
      const pkl = (await listModelFiles(client, info)).find((x) => x.path === 'model.pkl');
      assert.ok(pkl);
      const want = f.files.find((x) => x.path === 'model.pkl');
      assert.equal(pkl.size, want?.size);
      assert.equal(await sha256(info, pkl.path, pkl.size), want?.sha256);
    });
  }

  it('lists nested directories with relative posix paths', async () => {
    const f = nested;
    await mkdir(`${f.modelDir}/extra/deeper`, { recursive: true });
    await writeFile(`${f.modelDir}/extra/deeper/vocab.txt`, 'a\nb\n');
    await writeFile(`${f.modelDir}/extra/Ä.bin`, Buffer.alloc(7));
    const files = await listModelFiles(client, await resolve(`models:/nested/${f.version}`));
    const paths = files.map((x) => x.path);
    assert.ok(paths.includes('extra/deeper/vocab.txt'));
    assert.deepEqual(
      files.find((x) => x.path === 'extra/Ä.bin'),
      { path: 'extra/Ä.bin', size: 7 },
    );
    assert.deepEqual(
      paths,
      [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('downloads files whose names need URL escaping', async () => {
    // MLflow refuses '#' in artifact paths and URL-decodes them repeatedly, so no '#' or '%XX' here.
    const name = 'extra/weights v1 [50%] ü?.bin';
    const body = Buffer.from('not really weights');
    await mkdir(`${nested.modelDir}/extra`, { recursive: true });
    await writeFile(`${nested.modelDir}/${name}`, body);
    const info = await resolve(`models:/nested/${nested.version}`);
    const file = (await listModelFiles(client, info)).find((x) => x.path === name);
    assert.deepEqual(file, { path: name, size: body.length });
    assert.equal(await sha256(info, name, body.length), createHash('sha256').update(body).digest('hex'));
  });

  it('fails the stream with ARTIFACT_SIZE_MISMATCH when the file is not the listed size', async () => {
    const info = await resolve('models:/big@prod');
    const pkl = (await listModelFiles(client, info)).find((x) => x.path === 'model.pkl');
    assert.ok(pkl);
    await assert.rejects(
      async () => {
        for await (const _ of openModelFile(client, info, { path: 'model.pkl', size: pkl.size - 1 })) {
          // drain
        }
      },
      (e: unknown) => isKilnError(e, 'ARTIFACT_SIZE_MISMATCH') && e.details['expected'] === pkl.size - 1,
    );
  });

  it('says which model does not exist', async () => {
    for (const uri of ['models:/no-such-model@champion', 'models:/no-such-model/1']) {
      await assert.rejects(resolve(uri), (e: unknown) => {
        assert.ok(isKilnError(e, 'MODEL_NOT_FOUND'), String(e));
        assert.equal(e.kind, 'usage');
        assert.match(e.message, /no-such-model/);
        return true;
      });
    }
  });

  it('says which alias does not exist and lists the ones that do', async () => {
    await assert.rejects(resolve('models:/iris@nope'), (e: unknown) => {
      assert.ok(isKilnError(e, 'MODEL_ALIAS_NOT_FOUND'), String(e));
      assert.equal(e.kind, 'usage');
      assert.match(e.message, /"nope"/);
      assert.match(e.hint ?? '', /champion -> 1/);
      return true;
    });
  });

  it('says which version does not exist and what the latest is', async () => {
    await assert.rejects(resolve('models:/iris/99'), (e: unknown) => {
      assert.ok(isKilnError(e, 'MODEL_VERSION_NOT_FOUND'), String(e));
      assert.equal(e.kind, 'usage');
      assert.match(e.message, /version 99/);
      assert.match(e.hint ?? '', /latest version is 2/);
      return true;
    });
  });

  it('writes version tags that MLflow then reports', async () => {
    await setModelVersionTag(
      client,
      'iris',
      logged.version,
      'kiln.image',
      'registry.example/iris@sha256:abc',
    );
    await setModelVersionTag(
      client,
      'iris',
      logged.version,
      'kiln.image',
      'registry.example/iris@sha256:def',
    );
    const info = await getModelVersion(client, 'iris', logged.version);
    assert.equal(info.tags['kiln.image'], 'registry.example/iris@sha256:def');
  });

  it('keeps MLflow status and error_code on a failed write', async () => {
    await assert.rejects(setModelVersionTag(client, 'iris', '42', 'k', 'v'), (e: unknown) => {
      assert.ok(isKilnError(e, 'MLFLOW_REQUEST_FAILED'), String(e));
      assert.equal(e.details['status'], 404);
      assert.equal(e.details['errorCode'], 'RESOURCE_DOES_NOT_EXIST');
      return true;
    });
  });
});
