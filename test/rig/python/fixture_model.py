"""Log and register a tiny scikit-learn model on the test MLflow server (test/rig/mlflow.ts).

One python process per call, any number of versions (importing mlflow costs seconds).
Input: one JSON object in argv[1]:
  {"tracking_uri", "artifacts_root": the server's --artifacts-destination (maps mlflow-artifacts:/
   to disk), "models": [{"name", "alias"?, "source_kind": "logged-model"|"run"|"artifact-uri",
   "variant"?: "flaky"|"slow"|"other" (bad canaries for the analysis tests, see VARIANTS),
   "input_example"?: true (log the sample rows as MLflow's input example)}]}
Output: per model, in order, one line on stdout starting with "KILN_FIXTURE_JSON " (MLflow itself
prints run links to stdout, so the rig looks for the marker):
  {"version", "run_id", "source", "download_uri", "model_dir", "sample"}
`model_dir` is the version's model directory on the server's disk; the rig hashes the files there
(and overwrites model.pkl for the random-bytes fixture), so python never reads big files.
"""

import json
import os
import sys
import tempfile
from importlib.metadata import version as pkg_version

# Keep the run quiet and fast: no telemetry, no git lookups, no requirement inference subprocess.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# One BLAS thread: on a busy 2-core machine threaded BLAS makes a 150-row fit take seconds.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import mlflow.utils.environment  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402  (bundled with scikit-learn: no download)
from sklearn.linear_model import LogisticRegression  # noqa: E402

SAMPLE_ROWS = [0, 50, 100]  # one flower of each iris class

# MLflow compares the pinned requirements with every installed distribution (~1.7 s of scanning
# site-packages) only to print a warning; the fixture pins exactly what is installed.
mlflow.utils.environment.warn_dependency_requirement_mismatches = lambda _reqs: None


class Flaky:
    """Answers like `inner` but fails (HTTP 500 from the server) on rows with sepal length > 7.0:
    about 8% of iris rows, none of the input example's. Pickled by value (cloudpickle)."""

    def __init__(self, inner):
        self.inner = inner

    def predict(self, x):
        import numpy as np

        if (np.asarray(x)[:, 0] > 7.0).any():
            raise ValueError("flaky canary: sepal length > 7.0 is not supported")
        return self.inner.predict(x)


class Slow:
    """Answers like `inner`, 40 ms later."""

    def __init__(self, inner):
        self.inner = inner

    def predict(self, x):
        import time

        time.sleep(0.04)
        return self.inner.predict(x)


def variant_model(model, variant, x, y):
    if variant == "flaky":
        return Flaky(model)
    if variant == "slow":
        return Slow(model)
    if variant == "other":  # another model: trained on rotated labels, so every answer differs
        return LogisticRegression(max_iter=500).fit(x, (y + 1) % 3)
    return model


def main() -> None:
    args = json.loads(sys.argv[1])
    mlflow.set_tracking_uri(args["tracking_uri"])
    mlflow.set_experiment("kiln-fixtures")
    client = MlflowClient()

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    sample = {"instances": x[SAMPLE_ROWS].tolist(), "predictions": model.predict(x[SAMPLE_ROWS]).tolist()}
    signature = infer_signature(x, model.predict(x))
    # Explicit requirements skip MLflow's inference, which re-imports the model in a subprocess.
    reqs = [f"scikit-learn=={pkg_version('scikit-learn')}", f"cloudpickle=={pkg_version('cloudpickle')}"]
    common = dict(serialization_format="cloudpickle", signature=signature, pip_requirements=reqs)

    for spec in args["models"]:
        opts = dict(common)
        if spec.get("input_example"):
            opts["input_example"] = x[SAMPLE_ROWS]
        wrapped = variant_model(model, spec.get("variant"), x, y)
        out = log_one(client, wrapped, opts, spec, args["artifacts_root"])
        out["sample"] = sample
        sys.stdout.write("KILN_FIXTURE_JSON " + json.dumps(out) + "\n")
        sys.stdout.flush()


def log_one(client: MlflowClient, model, common: dict, spec: dict, artifacts_root: str) -> dict:
    name = spec["name"]
    kind = spec.get("source_kind", "logged-model")
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        if kind == "logged-model":
            info = mlflow.sklearn.log_model(model, name="model", **common)
            mv = client.create_model_version(
                name_or_create(client, name), info.model_uri, run_id=run_id, model_id=info.model_id
            )
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = os.path.join(tmp, "model")
                mlflow.sklearn.save_model(model, local, **common)
                mlflow.log_artifacts(local, artifact_path="model")
            source = f"runs:/{run_id}/model" if kind == "run" else f"{run.info.artifact_uri}/model"
            mv = client.create_model_version(name_or_create(client, name), source, run_id=run_id)
        artifact_uri = f"{run.info.artifact_uri}/model" if kind != "logged-model" else None

    if spec.get("alias"):
        client.set_registered_model_alias(name, spec["alias"], mv.version)

    download_uri = client.get_model_version_download_uri(name, mv.version)
    # A runs:/ version's download uri is the runs:/ uri itself (MLflow 3.17), so use the run's root.
    location = artifact_uri or download_uri
    prefix = "mlflow-artifacts:/"
    if not location.startswith(prefix):
        raise SystemExit(f"unexpected artifact location {location}")
    return {
        "version": mv.version,
        "run_id": run_id,
        "source": mv.source,
        "download_uri": download_uri,
        "model_dir": os.path.join(artifacts_root, location[len(prefix) :].lstrip("/")),
    }


def name_or_create(client: MlflowClient, name: str) -> str:
    """Create the registered model on first use (a second fixture under the same name adds a version)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    return name


if __name__ == "__main__":
    main()
