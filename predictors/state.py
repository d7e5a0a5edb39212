"""A fitted predictor as JSON plus arrays: a model file whose loading cannot run code.

Pickle (and so ``torch.load`` without ``weights_only``) lets a file name any callable and call it, so a
model file from someone else could run a shell command. Like ``skops.io``, a model is written here as a
tree of plain values instead: JSON for structure, ``.npy`` arrays read with ``allow_pickle=False``, XGBoost
boosters in XGBoost's own UBJSON format and scikit-learn trees as their node tables. Loading never imports
or calls anything the file names: an object node names its class, and only the classes in
:func:`trusted_classes` (the registered predictors and their helper types) are admitted; they are rebuilt
with ``cls.__new__`` and their saved attributes (plain data only), without running any method. A scikit-learn
tree's node table is checked (children in range and after their parent) before sklearn sees it, so a crafted
table cannot make prediction read out of bounds or loop.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from importlib import import_module
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError

STATE_FILE = "state.json"
# helper types predictors hold besides the registered predictors themselves ("module:qualname")
HELPERS = (
    "predictors.base:TargetTransform",
    "predictors.gp:_Layout",
    "predictors.lstm:_Percent",  # files written before the class moved to lstm_parts
    "predictors.lstm_parts:Percent",
    "sklearn.tree._classes:DecisionTreeRegressor",
)


class UnsafeState(NasscoutError):
    """The saved state holds something this format does not load (refused, nothing was run)."""


def trusted_classes(extra: tuple[type, ...] = (), *, plugins: bool = False) -> dict[str, type]:
    """'module:qualname' -> class for every type a model file may rebuild (an explicit allowlist): the
    built-in predictors and helpers, ``extra`` classes, and with ``plugins`` the predictors of installed
    packages' ``nasscout.predictors`` entry points (installed by the user; a file only chooses among them).
    A plugin given only by import path is never trusted by a file: it names code outside the allowlist."""
    from predictors.registry import PREDICTORS

    out: dict[str, type] = {}
    for ref in (*PREDICTORS.values(), *HELPERS):
        module, name = ref.split(":")
        out[ref] = getattr(import_module(module), name)
    if plugins:
        from predictors.registry import plugin_predictors, predictor_class

        for name in plugin_predictors():
            try:
                cls = predictor_class(name)
            except NasscoutError:
                continue  # a broken plugin cannot be what a file needs
            out[f"{cls.__module__}:{cls.__qualname__}"] = cls
    for cls in extra:
        out[f"{cls.__module__}:{cls.__qualname__}"] = cls
    return out


def _name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}:{t.__qualname__}"


class _Writer:
    def __init__(self, trusted: dict[str, type]) -> None:
        self.trusted = trusted
        self.arrays: list[np.ndarray] = []

    def array(self, a: np.ndarray) -> int:
        if a.dtype.hasobject:
            raise NasscoutError(f"cannot save an array of dtype {a.dtype}; only numeric arrays")
        self.arrays.append(np.ascontiguousarray(a))
        return len(self.arrays) - 1

    def encode(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"$float": repr(v)}
        if isinstance(v, np.ndarray):
            return {"$array": self.array(v)}
        if isinstance(v, np.generic):
            return {"$scalar": self.array(np.asarray(v))}
        if isinstance(v, list):
            return [self.encode(x) for x in v]
        if isinstance(v, tuple):
            return {"$tuple": [self.encode(x) for x in v]}
        if isinstance(v, dict):
            if all(isinstance(k, str) for k in v):
                return {"$dict": {k: self.encode(x) for k, x in v.items()}}
            return {"$pairs": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
        return self.encode_object(v)

    def encode_object(self, v: Any) -> Any:
        from surrogate.space import SearchSpace

        name = _name(v)
        if isinstance(v, SearchSpace):
            return {"$space": v.name}
        if name == "xgboost.core:Booster":
            raw = np.frombuffer(bytes(v.save_raw("ubj")), dtype=np.uint8)
            return {"$xgboost": self.array(raw), "config": v.save_config()}
        if name == "sklearn.tree._tree:Tree":
            state = v.__getstate__()
            return {
                "$sktree": [
                    int(v.n_features),
                    self.array(np.asarray(v.n_classes)),
                    int(v.n_outputs),
                ],
                "max_depth": int(state["max_depth"]),
                "node_count": int(state["node_count"]),
                "nodes": self.array(state["nodes"]),
                "values": self.array(state["values"]),
            }
        if name in self.trusted:
            state = v.__getstate__() if hasattr(v, "__getstate__") else v.__dict__
            state = {} if state is None else state
            if not isinstance(state, dict):
                raise NasscoutError(f"cannot save {name}: its state is not a dict of attributes")
            return {"$object": name, "state": self.encode(dict(state))}
        raise NasscoutError(f"cannot save an object of type {name} in a model file")


class _Reader:
    def __init__(self, trusted: dict[str, type], arrays: list[np.ndarray]) -> None:
        self.trusted = trusted
        self.arrays = arrays

    def array(self, i: Any) -> np.ndarray:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.arrays):
            raise UnsafeState(f"array reference {i!r} is out of range")
        return self.arrays[i]

    def decode(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise UnsafeState(f"unexpected node {str(v)[:60]!r}")
        tag = next(iter(v))
        body = v[tag]
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$array":
            return self.array(body)
        if tag == "$scalar":
            return self.array(body)[()]
        if tag == "$tuple" and isinstance(body, list):
            return tuple(self.decode(x) for x in body)
        if tag == "$dict" and isinstance(body, dict):
            return {k: self.decode(x) for k, x in body.items()}
        if tag == "$pairs" and isinstance(body, list):
            return {self._key(p[0]): self.decode(p[1]) for p in body if self._pair(p)}
        if tag == "$space":
            return _space(body)
        if tag == "$xgboost":
            return self._booster(body, v.get("config"))
        if tag == "$sktree":
            return self._tree(body, v)
        if tag == "$object":
            return self._object(body, v.get("state"))
        raise UnsafeState(f"unknown node type {tag!r}")

    @staticmethod
    def _pair(p: Any) -> bool:
        if not (isinstance(p, list) and len(p) == 2):
            raise UnsafeState("a dict item is not a [key, value] pair")
        return True

    def _key(self, k: Any) -> Any:
        key = self.decode(k)
        if isinstance(key, np.ndarray):
            raise UnsafeState("an array cannot be a dict key")
        return key

    def _object(self, name: Any, state: Any) -> Any:
        cls = self.trusted.get(name) if isinstance(name, str) else None
        if cls is None:
            raise UnsafeState(
                f"it names type {str(name)[:80]!r}, which is not a nasscout predictor type (built-in, "
                "or of an installed nasscout.predictors plugin)"
            )
        attrs = self.decode(state)
        if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise UnsafeState(f"the state of {name} is not a dict of attributes")
        obj = cls.__new__(cls)
        try:
            obj.__dict__.update(attrs)  # plain data only: no __setstate__ or __init__ runs
        except (AttributeError, TypeError):
            raise UnsafeState(f"{name} cannot hold attributes") from None
        return obj

    def _booster(self, ref: Any, config: Any) -> Any:
        import xgboost as xgb

        raw = self.array(ref)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise UnsafeState("an XGBoost model is not a byte array")
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(raw.tobytes()))
            # the saved config is not loaded (the model alone predicts identically); only its thread
            # count is kept, as a bounded number
            booster.set_param({"nthread": _nthread(config), "device": "cpu"})
        except xgb.core.XGBoostError as exc:
            detail = str(exc).splitlines()[0][:120]
            raise UnsafeState(f"an XGBoost model is unreadable ({detail})") from None
        return booster

    def _tree(self, args: Any, v: dict[str, Any]) -> Any:
        from sklearn.tree._tree import Tree

        try:
            n_features, n_classes, n_outputs = int(args[0]), self.array(args[1]), int(args[2])
            nodes, values = self.array(v["nodes"]), self.array(v["values"])
            count, depth = int(v["node_count"]), int(v["max_depth"])
        except (TypeError, ValueError, KeyError, IndexError):
            raise UnsafeState("a scikit-learn tree entry is malformed") from None
        check_tree(nodes, values, count, n_features)
        tree = Tree(n_features, n_classes.astype(np.intp), n_outputs)
        try:
            tree.__setstate__(
                {"max_depth": depth, "node_count": count, "nodes": nodes, "values": values}
            )
        except (ValueError, TypeError) as exc:
            raise UnsafeState(f"a scikit-learn tree is malformed ({exc})") from None
        return tree


def _nthread(config: Any) -> int:
    try:
        n = int(json.loads(config)["learner"]["generic_param"]["nthread"])
    except (TypeError, ValueError, KeyError, RecursionError):
        return 1
    return n if 1 <= n <= 256 else 1


def check_tree(nodes: np.ndarray, values: np.ndarray, count: int, n_features: int) -> None:
    """Refuse node tables that would make sklearn's traversal read out of bounds or never end."""
    names = ("left_child", "right_child", "feature")
    if nodes.dtype.names is None or not all(n in nodes.dtype.names for n in names):
        raise UnsafeState("a scikit-learn tree has no node table")
    if nodes.ndim != 1 or len(nodes) != count or count < 1 or len(values) != count:
        raise UnsafeState("a scikit-learn tree's node count does not match its tables")
    i = np.arange(count)
    left, right, feat = nodes["left_child"], nodes["right_child"], nodes["feature"]
    leaf = left == -1
    ok_leaf = (right == -1) & leaf
    ok_inner = (left > i) & (left < count) & (right > i) & (right < count)
    ok_inner &= (feat >= 0) & (feat < n_features)
    if not np.all(np.where(leaf, ok_leaf, ok_inner)):
        raise UnsafeState("a scikit-learn tree's node links are out of range")


def _space(name: Any) -> Any:
    from surrogate.spaces import SPACES

    if isinstance(name, str) and name in SPACES:
        return SPACES[name]()
    raise UnsafeState(f"unknown search space {str(name)[:40]!r}")


def _class_refs(tree: Any) -> set[str]:
    """Every class name an encoded tree mentions (to decide whether installed plugins must be imported)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if isinstance(v.get("$object"), str):
                out.add(v["$object"])
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def dumps_state(obj: Any) -> bytes:
    """``obj`` (a predictor) as the bytes of a zip: ``state.json`` plus one stored ``.npy`` per array."""
    writer = _Writer(trusted_classes((type(obj),)))  # the model being saved is the user's own
    tree = writer.encode(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(STATE_FILE, json.dumps(tree, allow_nan=False, separators=(",", ":")))
        for i, a in enumerate(writer.arrays):
            out = io.BytesIO()
            np.save(out, a, allow_pickle=False)
            zf.writestr(f"{i}.npy", out.getvalue())
    return buf.getvalue()


def loads_state(payload: bytes) -> Any:
    """The object :func:`dumps_state` wrote; raises UnsafeState / NasscoutError, never runs file code."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
        infos = {info.filename: info for info in zf.infolist()}
        if STATE_FILE not in infos:
            raise UnsafeState(f"no {STATE_FILE} in the model")
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos.values()):
            raise UnsafeState("compressed members are not accepted")
        tree = json.loads(zf.read(STATE_FILE))
        arrays = []
        for i in range(len(infos) - 1):
            if f"{i}.npy" not in infos:
                raise UnsafeState(f"array {i}.npy is missing")
            arrays.append(np.load(io.BytesIO(zf.read(f"{i}.npy")), allow_pickle=False))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, RecursionError) as exc:
        raise UnsafeState(f"the model data is unreadable ({type(exc).__name__})") from None
    try:
        trusted = trusted_classes()
        if not all(ref in trusted for ref in _class_refs(tree)):
            trusted = trusted_classes(plugins=True)
        return _Reader(trusted, arrays).decode(tree)
    except RecursionError:
        raise UnsafeState("the model data is nested too deeply") from None
