"""Build the scan test corpus at test time (never committed pickles): benign/ and malicious/.

Usage: $KILN_SCAN_PYTHON scan_corpus.py OUT_DIR
Every malicious payload is harmless (posix.getpid, os.getcwd, importlib.import_module('json')).
The PyTorch-format archive is written with torch's own layout (torch.save's zip: <name>/data.pkl
at protocol 2 with BINPERSID ('storage', torch.FloatStorage, key, 'cpu', numel), <name>/data/<key>,
<name>/version, <name>/byteorder) by zipfile, because torch (a ~1 GB wheel) is not installed.
"""
import io
import os
import pickle
import struct
import sys
import warnings
import zipfile
import zlib

warnings.filterwarnings("ignore")
out = sys.argv[1]
B = os.path.join(out, "benign")
M = os.path.join(out, "malicious")
os.makedirs(B, exist_ok=True)
os.makedirs(M, exist_ok=True)


def w(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ benign
import cloudpickle
import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor, AdaBoostClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, LogisticRegression, Lasso
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsRegressor
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeClassifier

X, y = make_classification(n_samples=80, n_features=5, random_state=1)
Xr, yr = make_regression(n_samples=80, n_features=5, random_state=1)
frame = pd.DataFrame({"num": np.linspace(0, 1, 80), "cat": ["a", "b", "c", "d"] * 20, "x": Xr[:, 0]})
models = {
    "logreg": LogisticRegression(max_iter=300).fit(X, y),
    "tree": DecisionTreeClassifier(max_depth=3).fit(X, y),
    "rf_reg": RandomForestRegressor(n_estimators=4, random_state=0).fit(Xr, yr),
    "extra": ExtraTreesRegressor(n_estimators=3, random_state=0).fit(Xr, yr),
    "gbr": GradientBoostingRegressor(n_estimators=5).fit(Xr, yr),
    "hgb": HistGradientBoostingRegressor(max_iter=5).fit(Xr, yr),
    "ada": AdaBoostClassifier(n_estimators=3).fit(X, y),
    "enet": ElasticNet().fit(Xr, yr),
    "lasso": Lasso().fit(Xr, yr),
    "nb": GaussianNB().fit(X, y),
    "knn": KNeighborsRegressor().fit(Xr, yr),
    "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(X),
    "pca": PCA(n_components=2).fit(X),
    "svr": SVR().fit(Xr, yr),
    "labels": LabelEncoder().fit(["x", "y", "z"]),
    "coltrans": Pipeline([
        ("pre", ColumnTransformer([("n", Pipeline([("imp", SimpleImputer()), ("s", StandardScaler())]), ["num", "x"]),
                                   ("c", OneHotEncoder(handle_unknown="ignore"), ["cat"])])),
        ("m", MinMaxScaler()),
        ("clf", LogisticRegression()),
    ]).fit(frame, [0, 1] * 40),
    "frame": frame,
    "series": frame["cat"].astype("category"),
    "arrays": {"f32": np.ones((3, 4), np.float32), "i64": np.arange(5), "obj": np.array(["a", 1], dtype=object), "s": np.float64(2.5)},
}
try:
    import xgboost as xgb
    models["xgb"] = xgb.XGBClassifier(n_estimators=4).fit(X, y)
    models["xgb_booster"] = xgb.train({}, xgb.DMatrix(Xr, yr), 3)
except ImportError:
    pass
try:
    import lightgbm as lgb
    models["lgbm"] = lgb.LGBMClassifier(n_estimators=4, verbose=-1).fit(X, y)
    models["lgb_booster"] = lgb.train({"verbose": -1}, lgb.Dataset(Xr, yr), 3)
except ImportError:
    pass

for name, obj in models.items():
    for proto in (2, 4, 5):
        w(B, f"{name}.p{proto}.pkl", pickle.dumps(obj, protocol=proto))
    w(B, f"{name}.cloudpickle.pkl", cloudpickle.dumps(obj))
    joblib.dump(obj, os.path.join(B, f"{name}.joblib"))
    joblib.dump(obj, os.path.join(B, f"{name}.z3.joblib"), compress=3)
joblib.dump(models["rf_reg"], os.path.join(B, "rf.gz.joblib"), compress=("gzip", 3))
w(B, "logreg.p0.pkl", pickle.dumps(models["logreg"], protocol=0))
w(B, "logreg.p1.pkl", pickle.dumps(models["logreg"], protocol=1))
np.save(os.path.join(B, "weights.npy"), np.arange(12.0).reshape(3, 4))
np.savez(os.path.join(B, "arrays.npz"), a=np.ones(3), b=np.arange(4))
np.savez_compressed(os.path.join(B, "arrays_compressed.npz"), a=np.ones(300))
try:
    import skops.io as sio
    sio.dump(models["logreg"], os.path.join(B, "logreg.skops"))
except Exception as e:
    print("skops:", e, file=sys.stderr)
w(B, "MLmodel", b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n")
w(B, "conda.yaml", b"channels:\n- conda-forge\ndependencies:\n- python=3.11\n")
w(B, "requirements.txt", b"mlflow==3.17.2\ncloudpickle==3.1.3\nscikit-learn==1.9.1\n")
w(B, "input_example.json", b'{"columns": ["a"], "data": [[1]]}')
# safetensors, written by the format's spec (8-byte LE header length, JSON header, data).
t = np.arange(6, dtype=np.float32).tobytes()
hdr = b'{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"format":"pt"}}'
w(B, "model.safetensors", struct.pack("<Q", len(hdr)) + hdr + t)


def torch_zip(data_pkl, storages, prefix="archive", extra=()):
    """A zip in torch.save's layout (stored members, like torch's writer)."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", data_pkl)
        z.writestr(f"{prefix}/byteorder", b"little")
        for key, raw in storages.items():
            z.writestr(f"{prefix}/data/{key}", raw)
        z.writestr(f"{prefix}/version", b"3\n")
        z.writestr(f"{prefix}/.data/serialization_id", b"1234567890")
        for n, d in extra:
            z.writestr(n, d)
    return bio.getvalue()


def state_dict_pickle():
    # GLOBAL-only protocol 2, as torch.save writes: OrderedDict of _rebuild_tensor_v2 calls.
    return (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x06tq\x08QK\x00K\x02K\x03\x86q\tK\x03K\x01\x86q\n\x89h\x00)Rq\x0btq\x0cRq\rsX\x0b\x00\x00\x00layer.scaleq\x0ectorch\nSize\nq\x0fK\x02K\x03\x86q\x10\x85q\x11Rq\x12s.")


sd = state_dict_pickle()
w(B, "state_dict.pt", torch_zip(sd, {"0": t}))

# ------------------------------------------------------------------ malicious (harmless payloads)
GETPID = b"cposix\ngetpid\n"


mal = {}
mal["reduce_p0"] = b"cposix\ngetpid\n(tR."
mal["reduce_p2"] = b"\x80\x02" + GETPID + b")R."
mal["reduce_p4_stack_global"] = b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06getpid\x93)R."
mal["inst"] = b"(iposix\ngetpid\n."
mal["obj"] = b"(" + GETPID + b"o."
mal["newobj_os"] = b"\x80\x02cos\n_wrap_close\n)\x81."
mal["importlib"] = b"\x80\x02cimportlib\nimport_module\nX\x04\x00\x00\x00jsontR." .replace(b"tR", b"\x85R")
mal["builtins_getattr"] = b"\x80\x02cbuiltins\ngetattr\ncos\ngetcwd\nX\x08\x00\x00\x00__call__\x86R)R."
mal["eval_p2_builtin"] = b"\x80\x02c__builtin__\neval\nX\x0b\x00\x00\x00os.getcwd()\x85R."
mal["dotted_pathlib"] = b"\x80\x04cpathlib\nos.getcwd\n)R."
mal["dotted_builtins_chain"] = b"\x80\x04cbuiltins\nprint.__class__.__base__.__subclasses__\n)R."
# memo desync: picklescan/ModelScan record the wrong memo value.
mal["memo_desync"] = b"\x80\x04\x8c\x05posix\x8c\x01x0\x94h\x00\x8c\x06getpid\x93)R."
mal["memo_get_module"] = b"\x80\x04\x8c\x05posix\x94\x8c\x04junk0h\x00\x8c\x06getpid\x93)R."
mal["int_desync_hex"] = b"I0x10\n0" + b"\x80\x02" + GETPID + b")R."
mal["int_octal_differential"] = b"I07\n0" + GETPID + b")R."
mal["float_underscore"] = b"F1_0.5\n0" + GETPID + b")R."
mal["unlisted_global"] = b"\x80\x02ctimeit\ntimeit\nX\x01\x00\x00\x001\x85R."
mal["unknown_class_newobj"] = b"\x80\x02cmymodule\nEvil\n)\x81."
mal["truncated_after_payload"] = b"\x80\x02" + GETPID + b")R"
mal["broken_after_payload"] = b"\x80\x02" + GETPID + b")R\xff\xff\xff"
mal["garbage_after_stop"] = b"\x80\x02N.\xde\xad\xbe\xef"
mal["second_stream"] = b"\x80\x02N." + b"\x80\x02" + GETPID + b")R."
mal["build_on_global"] = b"\x80\x02cnumpy\nndarray\n}X\x04\x00\x00\x00evilK\x01sb."
mal["computed_callable"] = b"\x80\x02ccollections\nOrderedDict\n)R)R."
mal["stack_global_computed_name"] = b"\x80\x04ccollections\nOrderedDict\n)R\x8c\x06getpid\x93)R."
mal["ext_registry"] = b"\x80\x02\x82\x01)R."
mal["next_buffer"] = b"\x80\x05\x97."
mal["persid_text"] = b"Pposix.getpid\n."
# a FRAME of 3 bytes whose last opcode (GLOBAL) runs past its end: pickle.py refuses, C accepts
mal["frame_crossing"] = b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N0" + GETPID + b")R."
mal["proto_misplaced"] = b"\x80\x02N0\x80\x04" + GETPID + b")R."


def by_value_fn(x):
    return x + 1


by_value_fn.__module__ = "__main__"
mal["cloudpickle_by_value"] = cloudpickle.dumps(by_value_fn)
for name, data in mal.items():
    w(M, f"{name}.pkl", data)
w(M, "renamed.bin", mal["reduce_p2"])
w(M, "model.pt.legacy", mal["reduce_p2"] + b"\x00" * 16)
# joblib with a payload; joblib compressed with a payload; npy object array with a payload.
w(M, "payload.joblib", zlib.compress(mal["reduce_p2"]))
# A joblib array wrapper without alignment padding in an uncompressed file: joblib.load reads the
# bytes after BUILD as array data, pickle.load (a server loading model.pkl) runs them as opcodes.
from joblib.numpy_pickle import NumpyArrayWrapper
ops = b"cposix\ngetpid\n)R0"
wrapper = NumpyArrayWrapper(np.ndarray, (len(ops),), "C", np.dtype("u1"), allow_mmap=False, numpy_array_alignment_bytes=None)
w(M, "joblib_unaligned.pkl", pickle.dumps(wrapper, protocol=2)[:-1] + ops + b".")
npy_hdr = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
hdr = npy_hdr + b" " * ((64 - (10 + len(npy_hdr) + 1) % 64) % 64) + b"\n"
w(M, "object.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + mal["reduce_p2"])
# Zip tricks around a PyTorch archive.
good = torch_zip(sd, {"0": t})
w(M, "torch_payload.pt", torch_zip(mal["reduce_p2"], {"0": t}))
w(M, "torch_DATA_PKL_case.pt", torch_zip(sd, {"0": t}, extra=[("archive/DATA.PKL", mal["reduce_p2"])]))
w(M, "torch_hidden_pickle.pt", torch_zip(sd, {"0": t}, extra=[("archive/extra.pkl", mal["reduce_p2"])]))
w(M, "zip_prefix_polyglot.pt", mal["reduce_p2"] + good)
w(M, "zip_suffix.pt", good + b"trailing")
bad_crc = bytearray(torch_zip(mal["reduce_p2"], {"0": t}))
i = bad_crc.find(b"PK\x03\x04")
bad_crc[i + 14] ^= 0xFF
w(M, "zip_bad_crc.pt", bytes(bad_crc))
flag = bytearray(good)
flag[6] |= 0x01
w(M, "zip_flag_encrypted.pt", bytes(flag))
patched = bytearray(torch_zip(mal["reduce_p2"], {"0": t}))
patched[6] |= 0x20  # "compressed patched data": picklescan's old reader refused it, torch reads it
w(M, "zip_flag_patched.pt", bytes(patched))
# central directory name differs from the local header name
cd = bytearray(good)
j = cd.find(b"PK\x01\x02")
name_at = j + 46
cd[name_at:name_at + 7] = b"ARCHIVE"
w(M, "zip_cd_name_mismatch.pt", bytes(cd))
dup = io.BytesIO()
with zipfile.ZipFile(dup, "w") as z:
    z.writestr("archive/data.pkl", sd)
    z.writestr("archive/data.pkl", mal["reduce_p2"])
w(M, "zip_duplicate.pt", dup.getvalue())
w(M, "sevenzip.pt", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 64)
w(M, "bz2.joblib", b"BZh91AY&SY" + b"\x00" * 40)
w(M, "bad.safetensors", struct.pack("<Q", len(hdr := b'{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}')) + hdr + t)
sk = io.BytesIO()
with zipfile.ZipFile(sk, "w") as z:
    z.writestr("schema.json", b'{"__class__": "system", "__module__": "os", "__loader__": "ObjectNode", "content": {}, "_skops_version": "0.16"}')
w(M, "os.skops", sk.getvalue())


def pb_field(num, payload):
    """A length-delimited protobuf field (wire type 2), enough to write a minimal ONNX ModelProto."""
    n, out = len(payload), b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([(num << 3) | 2]) + out + payload


def onnx_model(location):
    # ModelProto{ir_version: 8, producer_name, graph{initializer: TensorProto{name, external_data{location}, data_location: EXTERNAL}}}
    entry = pb_field(1, b"location") + pb_field(2, location.encode())
    tensor = pb_field(8, b"w") + pb_field(13, entry) + bytes([14 << 3, 1])
    graph = pb_field(1, b"") + pb_field(5, tensor) + pb_field(2, b"g")
    return bytes([0x08, 0x08]) + pb_field(2, b"kiln-test") + pb_field(7, graph)


w(B, "model.onnx", onnx_model("weights.bin"))


def keras_zip(layers):
    """A .keras archive as Keras 3 writes it (metadata.json, config.json, weights), deflated."""
    import json
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": layers}, "registered_name": None}
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.10.0", "date_saved": "2026-01-01"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 32)
    return bio.getvalue()


dense = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}, "registered_name": None}
lam = {"module": "keras.layers", "class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}}}
custom = {"module": "evil_pkg.layers", "class_name": "Backdoor", "config": {}, "registered_name": "Backdoor"}
w(B, "dense.keras", keras_zip([dense]))
w(M, "lambda.keras", keras_zip([dense, lam]))
w(M, "custom_module.keras", keras_zip([dense, custom]))
w(M, "external_data_escape.onnx", onnx_model("../../../etc/passwd"))
print(f"{len(os.listdir(B))} benign, {len(os.listdir(M))} malicious")
