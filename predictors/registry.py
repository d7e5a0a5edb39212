"""Predictors by name, imported only when asked for (so listing them costs no torch/xgboost import).

Besides the built-ins, a name may be an import path ``package.module:Class`` or the name an installed package
registers in the ``nasscout.predictors`` entry-point group (see surrogate.plugins); either is checked against
the Predictor contract before use.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any

from predictors.base import Predictor
from surrogate.errors import NasscoutError
from surrogate.plugins import (
    PluginError,
    check_plugin_class,
    dist_name,
    entry_points_of,
    is_import_path,
    load_entry_point,
    load_import_path,
)

# name -> "module:Class"; the class's ``summary`` is what ``list_predictors`` shows.
PREDICTORS: dict[str, str] = {
    "gp": "predictors.gp:GPPredictor",
    "xgb": "predictors.xgb:XGBPredictor",
    "mlp-ensemble": "predictors.mlp_ensemble:MLPEnsemblePredictor",
    "lstm": "predictors.lstm:LSTMPredictor",
    "rf": "predictors.forest:RandomForestPredictor",
    "gin": "predictors.gin:GINPredictor",
    "ensemble": "predictors.ensemble:EnsemblePredictor",
    "params": "predictors.zerocost:ParamsProxy",
    "flops": "predictors.zerocost:FlopsProxy",
    "zen": "predictors.zerocost:ZenProxy",
    "synflow": "predictors.zerocost:SynflowProxy",
    "jacov": "predictors.zerocost:JacovProxy",
    "oneshot": "predictors.oneshot:OneShotPredictor",
}


def plugin_predictors() -> dict[str, Any]:
    """Entry points of installed packages (group ``nasscout.predictors``) whose name is not a built-in."""
    return {n: ep for n, ep in entry_points_of("predictor").items() if n not in PREDICTORS}


def predictor_names() -> list[str]:
    """Built-in names, then installed plugins' (imports nothing)."""
    return list(PREDICTORS) + sorted(plugin_predictors())


def is_predictor_name(name: str) -> bool:
    """Whether ``name`` can name a predictor (a known name or an import path; not imported here)."""
    return name in PREDICTORS or name in plugin_predictors() or is_import_path(name)


def check_predictor_class(obj: Any, name: str) -> type[Predictor]:
    """``obj`` if it meets the Predictor contract, else one line saying how it does not."""
    accepted = (
        "accepted: a subclass of predictors.base.Predictor with fit(self, archs, y) and "
        "predict(self, archs, *, return_std=False)"
    )
    shapes = (
        ("fit", "fit(self, archs, y) -> self", lambda sig: sig.bind(None, None, None)),
        ("predict", "predict(self, archs, *, return_std=False)",
         lambda sig: sig.bind(None, None, return_std=True)),
        ("__init__", "__init__(self, *, seed=0, space=None, **options)",
         lambda sig: sig.bind(None, seed=0)),
    )  # fmt: skip
    return check_plugin_class(obj, name, "predictor", Predictor, accepted, shapes)


def resolve_predictor(name: str) -> tuple[type[Predictor], str]:
    """(class, origin) for a built-in name, an installed plugin name or an import path."""
    if name in PREDICTORS:
        module, cls = PREDICTORS[name].split(":")
        return getattr(import_module(module), cls), "built-in"
    plugins = plugin_predictors()
    if name in plugins:
        ep = plugins[name]
        cls = check_predictor_class(load_entry_point(ep, "predictor"), name)
        return cls, f"plugin {dist_name(ep) or ep.value}"
    if is_import_path(name):
        return check_predictor_class(load_import_path(name, "predictor"), name), "import path"
    raise NasscoutError(
        f"unknown predictor {name!r}; accepted: {', '.join(predictor_names())}, or package.module:Class"
    )


def predictor_class(name: str) -> type[Predictor]:
    return resolve_predictor(name)[0]


def make_predictor(name: str, *, seed: int = 0, **options: Any) -> Predictor:
    """A fresh, unfitted predictor; unknown names or options fail with the accepted ones listed."""
    cls = predictor_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed")]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise NasscoutError(
            f"unknown option {unknown[0]!r} for predictor {name!r}; accepted: {', '.join(accepted) or 'none'}"
        )
    return cls(seed=seed, **options)


def list_predictors() -> list[tuple[str, str]]:
    """(name, one-line summary) for every built-in predictor, in registry order."""
    return [(name, predictor_class(name).summary) for name in PREDICTORS]


def catalog() -> list[tuple[str, str, type | None, str]]:
    """(name, origin, class or None, summary or the one-line error) for built-ins and installed plugins."""
    rows: list[tuple[str, str, type | None, str]] = []
    for name in predictor_names():
        try:
            cls, origin = resolve_predictor(name)
            rows.append((name, origin, cls, cls.summary))
        except NasscoutError as exc:
            ep = plugin_predictors().get(name)
            rows.append((name, f"plugin {dist_name(ep) if ep else ''}", None, f"BROKEN: {exc}"))
    return rows


def call_model(model: Predictor, method: str, *args: Any, **kwargs: Any) -> Any:
    """``model.method(...)``; for a plugin's model, an exception of its own becomes one PluginError line
    (traceback kept for ``--debug``) and ``predict`` output of the wrong shape is refused."""
    fn = getattr(model, method)
    if type(model).__module__.split(".")[0] == "predictors":
        return fn(*args, **kwargs)
    name = f"{type(model).__module__}:{type(model).__qualname__}"
    try:
        out = fn(*args, **kwargs)
    except NasscoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - the plugin's own bug, reported in one line
        import traceback

        text = str(exc).strip().splitlines()
        err = PluginError(
            f"predictor {name!r} raised {type(exc).__name__}{': ' + text[0][:160] if text else ''} in "
            f"{method}(); --debug shows its traceback"
        )
        err.detail = "".join(traceback.format_exception(exc))
        raise err from exc
    if method == "predict":
        n = len(args[0]) if args else None
        parts = out if kwargs.get("return_std") else (out,)
        import numpy as np

        shapes = [np.shape(p) for p in (parts if isinstance(parts, tuple) else ())]
        want = 2 if kwargs.get("return_std") else 1
        if len(shapes) != want or any(s != (n,) for s in shapes):
            raise PluginError(
                f"predictor {name!r}: predict() returned {type(out).__name__} of shapes {shapes} for {n} "
                f"cells; accepted: an array of shape ({n},)"
                + (", and with return_std=True a (mean, std) pair of them" if want == 2 else "")
            )
        arrays = tuple(np.asarray(p, dtype=np.float64) for p in parts)
        return arrays if want == 2 else arrays[0]
    return out


def plugin_record(names: Any) -> dict[str, dict[str, Any]]:
    """Module, version, file and sha256 of each plugin predictor among ``names`` (for result metadata)."""
    from surrogate.plugins import plugin_facts

    out = {}
    for name in names:
        if name not in PREDICTORS:
            cls, origin = resolve_predictor(name)
            out[name] = plugin_facts(cls, origin).to_json()
    return out
