// Issue 2 acceptance: the test rig's MLflow serves a registered fixture model that can be resolved
// by alias over MLflow's own REST API, with a model.pkl downloadable at the recorded size.
// Plain fetch on purpose: this checks the rig, not kiln's client.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { logSklearnModel, type MlflowRig, type SklearnFixture, startMlflow } from '../rig/mlflow.ts';

describe('MLflow test rig', () => {
  let rig: MlflowRig;
  let model: SklearnFixture;

  before(async () => {
    rig = await startMlflow();
    model = await logSklearnModel(rig, { name: 'rig-iris', alias: 'champion' });
  });
  after(async () => {
    await rig?.stop();
  });

  it('resolves the fixture by alias over the REST API and downloads model.pkl at the right size', async () => {
    const api = `${rig.url}/api/2.0/mlflow`;
    const byAlias = await fetch(`${api}/registered-models/alias?name=rig-iris&alias=champion`);
    assert.equal(byAlias.status, 200);
    const { model_version: mv } = (await byAlias.json()) as {
      model_version: { version: string; source: string };
    };
    assert.equal(mv.version, model.version);
    assert.equal(mv.source, model.source);
    assert.match(mv.source, /^models:\/m-/);

    const dl = await fetch(`${api}/model-versions/get-download-uri?name=rig-iris&version=${mv.version}`);
    const { artifact_uri: uri } = (await dl.json()) as { artifact_uri: string };
    assert.match(uri, /^mlflow-artifacts:\//);
    const path = uri.slice('mlflow-artifacts:'.length).replace(/^\/+/, '');
    const res = await fetch(`${rig.url}/api/2.0/mlflow-artifacts/artifacts/${path}/model.pkl`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());

    const pkl = model.files.find((f) => f.path === 'model.pkl');
    assert.ok(pkl, 'the fixture lists model.pkl');
    assert.equal(body.length, pkl.size);
    assert.equal(createHash('sha256').update(body).digest('hex'), pkl.sha256);
    assert.ok(body.length > 100, 'a real pickled classifier, not an empty file');
  });

  it('records sample rows with the predictions of the logged classifier', () => {
    assert.equal(model.sample.instances.length, model.sample.predictions.length);
    assert.deepEqual(model.sample.predictions, [0, 1, 2]); // one iris of each class, classified right
  });
});
