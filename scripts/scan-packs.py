#!/usr/bin/env python3
"""Generate kiln's scan allowlist packs (src/scan/packs/*.json) from the real libraries.

Run in the pinned scan venv:  $KILN_TOOLS/venv-scan/bin/python scripts/scan-packs.py
Never edit the JSON by hand: change this script or the pins (scripts/lib.sh) and regenerate.

Where each entry comes from (docs/scan.md "Packs"):
  * observed: real objects of each library (fitted estimators, arrays of every dtype, DataFrames,
    sparse matrices, boosters...) are pickled with protocols 0-5 and joblib through a recording
    subclass of pickle's own Python pickler; every (global, role) the pickler emits is recorded,
    using the same role rules as kiln's machine (src/scan/pickle/machine.ts).
  * introspected: every class defined in scikit-learn, xgboost, lightgbm and scipy.sparse modules
    may be instantiated (newobj), have its state set (build) and be passed (argument); Cython
    extension types are also reduce-callable (their __reduce__ calls the type), and module-level
    functions that exist to be called by unpickling (`__pyx_unpickle_*`, `_unpickle*`, `*_ctor`,
    `_reconstruct`, `_frombuffer`, `_new_*`) are reduce-callable.
  * torch: torch's own weights_only allowlist, read from torch/_weights_only_unpickler.py at a
    pinned torch version (scripts/scan-packs/torch-weights-only.txt, vendored; torch itself is a
    ~1 GB wheel and is not installed).
  * compat: CPython's _compat_pickle (Python 2 module/name mapping used at protocol < 3).
  * numpy 1.x paths: numpy 2 renamed numpy.core to numpy._core and keeps numpy.core as an import
    shim, so every observed numpy._core.X entry is also allowed as numpy.core.X (what numpy 1.x
    pickles name).
"""
import ast
import copyreg
import importlib
import inspect
import io
import json
import os
import pickle
import pkgutil
import re
import sys
import types
import warnings
from collections import Counter, OrderedDict, defaultdict, deque

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "src", "scan", "packs")
CLASS_FACTORIES = {
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
}
UNPICKLE_HELPER = re.compile(r"^(__pyx_unpickle_\w+|_unpickle\w*|\w*_ctor|_reconstruct\w*|_frombuffer|_new_\w+|_rebuild\w*)$")


def gname(obj):
    name = getattr(obj, "__qualname__", None) or obj.__name__
    return pickle.whichmodule(obj, name), name


def safe_gname(obj):
    try:
        return gname(obj)
    except Exception:
        return None


class Recorder:
    def __init__(self):
        self.roles = defaultdict(set)

    def add(self, obj, role):
        try:
            self.roles[gname(obj)].add(role)
        except Exception:
            pass


REC = Recorder()


class RecordingMixin:
    """Records what pickle.py's own save_reduce/save_global emit."""

    def save(self, obj, *args):
        # pickle._Pickler dispatches classes and functions to save_global/save_type through a
        # class-level table, bypassing overrides: record them here.
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            REC.add(obj, "argument")
        return super().save(obj, *args)

    def save_global(self, obj, name=None):
        REC.add(obj, "argument")
        return super().save_global(obj, name)

    def save_reduce(self, func, args, state=None, listitems=None, dictitems=None, state_setter=None, *, obj=None):
        fname = getattr(func, "__name__", "")
        target = func
        if fname in ("__newobj__", "__newobj_ex__"):
            target = args[0]
            REC.add(target, "newobj")
        else:
            REC.add(func, "reduce")
            if safe_gname(func) in CLASS_FACTORIES and args:
                target = args[0]
                REC.add(target, "newobj")
        if state is not None or listitems is not None or dictitems is not None:
            REC.add(target, "build")
        if state_setter is not None:
            REC.add(state_setter, "reduce")
        return super().save_reduce(func, args, state, listitems, dictitems, state_setter, obj=obj)


class RecordingPickler(RecordingMixin, pickle._Pickler):
    pass


def observe(obj):
    for proto in range(0, 6):
        try:
            RecordingPickler(io.BytesIO(), protocol=proto).dump(obj)
        except Exception as e:
            if proto >= 2:
                print(f"observe {type(obj).__name__} p{proto}: {e!r}"[:200], file=sys.stderr)
    try:
        from joblib.numpy_pickle import NumpyPickler

        class JP(RecordingMixin, NumpyPickler):
            pass

        JP(io.BytesIO(), protocol=None).dump(obj)
    except Exception as e:
        print(f"observe joblib {type(obj).__name__}: {e!r}"[:200], file=sys.stderr)


def by_pack(roles, prefixes):
    out = defaultdict(dict)
    for (m, n), r in roles.items():
        if any(m == p or m.startswith(p + ".") for p in prefixes):
            out[m][n] = sorted(set(out[m].get(n, [])) | r)
    return out


def introspect(package, skip=("tests", "test", "_build_utils", "externals", "datasets", "conftest", "benchmarks")):
    roles = defaultdict(set)
    pkg = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")]
    for modname in names:
        if any(part in skip for part in modname.split(".")):
            continue
        try:
            mod = importlib.import_module(modname)
        except Exception:
            continue
        for attr, obj in list(vars(mod).items()):
            owner = getattr(obj, "__module__", None)
            if owner != modname:
                continue
            if inspect.isclass(obj):
                r = {"newobj", "build", "argument"}
                if not (obj.__flags__ & (1 << 9)):  # Py_TPFLAGS_HEAPTYPE unset: an extension (Cython) type
                    r.add("reduce")
                roles[(modname, obj.__qualname__)] |= r
            elif callable(obj) and UNPICKLE_HELPER.match(attr):
                roles[(modname, attr)] |= {"reduce", "argument"}
    return roles


def corpus():
    """Real objects, one of each shape the libraries pickle (the pack's observations)."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from sklearn.utils import all_estimators

    objs = []
    # Python containers and stdlib values that models carry.
    objs += [[str, int, float, bool, bytes, complex, list, dict, tuple, set, frozenset, type(None)], set([1]), frozenset([1]), bytearray(b"x"), b"x", slice(1, 2), complex(1, 2), range(3), OrderedDict(a=1),
             defaultdict(list, a=[1]), defaultdict(dict), Counter("ab"), deque([1])]
    import datetime
    import decimal
    objs += [datetime.datetime(2020, 1, 1), datetime.date(2020, 1, 1), datetime.timedelta(1), datetime.time(1),
             datetime.timezone.utc, decimal.Decimal("1.5")]
    # numpy: every dtype kind, 0-d, Fortran order, structured, object arrays, scalars, random state.
    for dt in ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", "U3", "S3", "M8[ns]", "m8[s]", "V4"]:
        objs.append(np.zeros((2, 3), dtype=dt))
    objs += [np.zeros((2, 2), order="F"), np.array(1.5), np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
             np.array([{"a": 1}, "x", None], dtype=object), np.float64(1.5), np.int64(3), np.bool_(True), np.dtype("f8"),
             np.ma.masked_array([1, 2], mask=[0, 1]), np.random.RandomState(0), np.random.default_rng(0),
             np.random.Generator(np.random.MT19937(0)), np.random.Generator(np.random.Philox(0)),
             np.random.Generator(np.random.SFC64(0)), np.random.SeedSequence(0)]
    # scipy sparse.
    m = sp.random(5, 5, density=0.3, format="csr", random_state=0)
    for fmt in ["csr", "csc", "coo", "bsr", "dia", "lil", "dok"]:
        objs.append(m.asformat(fmt))
        objs.append(sp.csr_array(m).asformat(fmt))
    # pandas: frames, series, every index and extension dtype kiln's users meet.
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, None], "c": ["x", "y", "z"], "d": pd.Categorical(["u", "v", "u"]),
                       "e": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
                       "f": pd.array([1, None, 3], dtype="Int64"), "g": pd.array([True, None, False], dtype="boolean"),
                       "h": pd.date_range("2020", periods=3, tz="UTC"), "i": pd.array(["a", None, "b"], dtype="string")})
    objs += [df, df["a"], df.set_index("c"), pd.Series([1.0], index=pd.MultiIndex.from_tuples([("a", 1)])),
             pd.interval_range(0, 3), pd.period_range("2020", periods=2, freq="M"), pd.timedelta_range("1D", periods=2),
             pd.RangeIndex(3), pd.Index([1.5]), pd.Timestamp("2020"), pd.Timedelta("1D"), pd.Period("2020", "M"),
             pd.arrays.SparseArray([0, 1, 0]), pd.Series(pd.arrays.SparseArray([0.0, 1.0]))]
    # scikit-learn: every estimator, unfitted (introspection covers the classes), and typical fitted ones.
    for _, cls in all_estimators():
        try:
            objs.append(cls())
        except Exception:
            pass
    objs += fitted_models()
    return objs


def fitted_models():
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, IsolationForest, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeRegressor

    X, y = make_classification(n_samples=60, n_features=6, random_state=0)
    Xr, yr = make_regression(n_samples=60, n_features=4, random_state=0)
    out = []
    for est in [LogisticRegression(max_iter=200), RandomForestClassifier(n_estimators=3, random_state=0),
                GradientBoostingClassifier(n_estimators=3), HistGradientBoostingClassifier(max_iter=3),
                IsolationForest(n_estimators=3, random_state=0), SVC(probability=True), MLPClassifier(max_iter=20, random_state=0),
                KNeighborsClassifier(), SGDClassifier(), make_pipeline(StandardScaler(), LogisticRegression())]:
        out.append(est.fit(X, y))
    out.append(DecisionTreeRegressor().fit(Xr, yr))
    out.append(Ridge().fit(Xr, yr))
    out.append(TfidfVectorizer().fit(["alpha beta gamma", "beta gamma delta"]))
    frame = pd.DataFrame({"n": np.arange(6.0), "c": list("abcabc")})
    ct = ColumnTransformer([("n", StandardScaler(), ["n"]), ("c", OneHotEncoder(), ["c"])])
    out.append(make_pipeline(ct, LogisticRegression()).fit(frame, [0, 1] * 3))
    try:
        import xgboost as xgb
        out.append(xgb.XGBClassifier(n_estimators=3).fit(X, y))
        out.append(xgb.XGBRegressor(n_estimators=3).fit(Xr, yr))
        out.append(xgb.train({}, xgb.DMatrix(X, y), 2))
    except Exception as e:
        print("xgboost:", e, file=sys.stderr)
    try:
        import lightgbm as lgb
        out.append(lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y))
        out.append(lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(Xr, yr))
        out.append(lgb.train({"verbose": -1}, lgb.Dataset(X, y), 2))
    except Exception as e:
        print("lightgbm:", e, file=sys.stderr)
    return out


def torch_pack():
    """torch.serialization's weights_only allowlist, parsed from the vendored torch source."""
    src = os.path.join(HERE, "scan-packs", "torch-weights-only.txt")
    text = open(src).read()
    version = re.search(r"^# torch version: (\S+)", text, re.M).group(1)
    roles = defaultdict(set)
    for m in re.finditer(r"^# allow: (\S+) (\S+) (\S+)$", text, re.M):
        roles[(m.group(1), m.group(2))] |= set(m.group(3).split(","))
    # Literal entries in _get_allowed_globals (rc["module.name"] = ...).
    for m in re.finditer(r'rc\["([\w.]+)\.(\w+)"\]', text):
        roles[(m.group(1), m.group(2))] |= {"reduce", "argument"}
    return version, roles


def versions():
    from importlib.metadata import version
    return {n: version(n) for n in ["numpy", "scipy", "pandas", "scikit-learn", "xgboost-cpu", "lightgbm", "joblib", "cloudpickle", "skops"]}


def write(name, libraries, globals_):
    pack = {"pack": name, "generator": "scripts/scan-packs.py", "python": sys.version.split()[0], "libraries": libraries,
            "globals": {m: dict(sorted(n.items())) for m, n in sorted(globals_.items()) if n}}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(pack, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{name}: {sum(len(v) for v in pack['globals'].values())} globals", file=sys.stderr)


def main():
    v = versions()
    for obj in corpus():
        observe(obj)
    roles = defaultdict(set)
    for k, r in REC.roles.items():
        roles[k] |= r
    for pkg in ["sklearn", "xgboost", "lightgbm", "scipy.sparse"]:
        for k, r in introspect(pkg).items():
            roles[k] |= r
    # numpy 1.x module paths for everything observed under numpy._core.
    for (m, n), r in list(roles.items()):
        if m == "numpy._core" or m.startswith("numpy._core."):
            roles[("numpy.core" + m[len("numpy._core"):], n)] |= r
    py = {"python": sys.version.split()[0]}
    write("builtins", py, by_pack(roles, ["builtins", "copyreg", "_codecs", "collections", "datetime", "decimal", "functools_"]))
    write("numpy", {"numpy": v["numpy"]}, by_pack(roles, ["numpy"]))
    write("scipy", {"scipy": v["scipy"]}, by_pack(roles, ["scipy"]))
    write("pandas", {"pandas": v["pandas"], "numpy": v["numpy"]}, by_pack(roles, ["pandas"]))
    write("sklearn", {"scikit-learn": v["scikit-learn"]}, by_pack(roles, ["sklearn"]))
    write("xgboost", {"xgboost-cpu": v["xgboost-cpu"]}, by_pack(roles, ["xgboost"]))
    write("lightgbm", {"lightgbm": v["lightgbm"]}, by_pack(roles, ["lightgbm"]))
    write("joblib", {"joblib": v["joblib"]}, by_pack(roles, ["joblib"]))
    # CPython's Python 2 name mapping, applied by the unpicklers at protocol < 3 (fix_imports).
    import _compat_pickle as compat
    with open(os.path.join(OUT, "compat.json"), "w") as f:
        json.dump({"pack": "compat", "generator": "scripts/scan-packs.py", "libraries": py,
                   "IMPORT_MAPPING": compat.IMPORT_MAPPING,
                   "NAME_MAPPING": [[a, b, x, y] for (a, b), (x, y) in sorted(compat.NAME_MAPPING.items())]},
                  f, indent=1, sort_keys=True)
        f.write("\n")
    tv, troles = torch_pack()
    write("torch", {"torch": tv, "source": "torch/_weights_only_unpickler.py"}, by_pack(troles, ["torch", "collections", "builtins", "_codecs"]))


if __name__ == "__main__":
    main()
