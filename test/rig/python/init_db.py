"""Create an MLflow SQLite database with the full schema (test/rig/mlflow.ts caches it per MLflow version).

A fresh `mlflow server` spends most of its start-up running ~100 alembic migrations on an empty
database; copying this template into each test server's directory skips that. The default
experiment's artifact location is `mlflow-artifacts:/0`, exactly what `mlflow server
--artifacts-destination ...` (artifact proxying on, no --default-artifact-root) would create.
Usage: python init_db.py /path/to/mlflow.db
"""

import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore  # noqa: E402
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore  # noqa: E402

uri = f"sqlite:///{os.path.abspath(sys.argv[1])}"
TrackingStore(uri, "mlflow-artifacts:/")
RegistryStore(uri)
