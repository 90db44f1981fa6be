# A stand-in for KServe's sklearnserver (python/sklearnserver in kserve/kserve), which is not on
# PyPI. Same contract: load the single top-level .joblib/.pkl/.pickle in --model_dir with joblib,
# serve it as --model_name (default "model") over the kserve SDK's V1/V2 REST (and gRPC) endpoints.
# Flags are the SDK's own (kserve.model_server.parser): --http_port (default 8080), --grpc_port
# (default 8081: the gRPC server is on unless --enable_grpc=false), --workers, ...
import argparse
import os
import sys

import joblib
import kserve
from kserve.errors import InferenceError, ModelMissingError
from kserve.utils.utils import get_predict_input, get_predict_response

MODEL_EXTENSIONS = (".joblib", ".pkl", ".pickle")


class SKLearnModel(kserve.Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self.ready = False

    def load(self) -> bool:
        files = [
            os.path.join(self.model_dir, f)
            for f in sorted(os.listdir(self.model_dir))
            if f.endswith(MODEL_EXTENSIONS) and os.path.isfile(os.path.join(self.model_dir, f))
        ]
        if not files:
            raise ModelMissingError(self.model_dir)
        if len(files) > 1:
            raise RuntimeError(f"more than one model file in {self.model_dir}: {files}; only one is allowed")
        # joblib.load reads plain pickles too (mlflow's cloudpickle format writes one).
        self._model = joblib.load(files[0])
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        try:
            instances = get_predict_input(payload)
            if os.environ.get("PREDICT_PROBA", "false").lower() == "true" and hasattr(self._model, "predict_proba"):
                result = self._model.predict_proba(instances)
            else:
                result = self._model.predict(instances)
            return get_predict_response(payload, result, self.name)
        except Exception as e:
            raise InferenceError(str(e)) from e


parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
parser.add_argument("--model_dir", default="/mnt/models", help="directory holding the model file")

if __name__ == "__main__":
    args, _ = parser.parse_known_args()
    model = SKLearnModel(args.model_name, args.model_dir)
    try:
        model.load()
    except Exception as e:  # noqa: BLE001 - report and exit non-zero, as the pod would crash-loop
        print(f"failed to load model {args.model_name} from {args.model_dir}: {e}", file=sys.stderr)
        sys.exit(1)
    kserve.ModelServer().start([model])
