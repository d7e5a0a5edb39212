"""Predictors by name, imported only when asked for (so listing them costs no torch/xgboost import)."""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any

from predictors.base import Predictor
from surrogate.errors import NasscoutError

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
}


def predictor_class(name: str) -> type[Predictor]:
    if name not in PREDICTORS:
        raise NasscoutError(f"unknown predictor {name!r}; accepted: {', '.join(PREDICTORS)}")
    module, cls = PREDICTORS[name].split(":")
    return getattr(import_module(module), cls)


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
    """(name, one-line summary) for every registered predictor, in registry order."""
    return [(name, predictor_class(name).summary) for name in PREDICTORS]
