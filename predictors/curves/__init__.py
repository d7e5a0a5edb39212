"""Learning-curve extrapolators by name (imported only when asked for): see ``predictors.curves.base``."""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any

from predictors.curves.base import (
    CurveExtrapolator,
    CurvePrediction,
    Curves,
    GaussianPrediction,
    HistogramPrediction,
    MixturePrediction,
)
from surrogate.errors import NasscoutError

# name -> "module:Class"
EXTRAPOLATORS: dict[str, str] = {
    "mcmc": "predictors.curves.parametric:MCMCExtrapolator",
    "fast": "predictors.curves.parametric:FastExtrapolator",
    "lcsvr": "predictors.curves.lcsvr:LcSVRExtrapolator",
    "pfn": "predictors.curves.pfn:PFNExtrapolator",
    "last": "predictors.curves.baselines:LastValue",
    "best": "predictors.curves.baselines:BestSoFar",
    "sotle": "predictors.curves.baselines:SoTLE",
}


def extrapolator_class(name: str) -> type[CurveExtrapolator]:
    if name not in EXTRAPOLATORS:
        raise NasscoutError(f"unknown extrapolator {name!r}; accepted: {', '.join(EXTRAPOLATORS)}")
    module, cls = EXTRAPOLATORS[name].split(":")
    return getattr(import_module(module), cls)


def make_extrapolator(name: str, *, seed: int = 0, **options: Any) -> CurveExtrapolator:
    """A fresh extrapolator; unknown names or options fail with the accepted ones listed."""
    cls = extrapolator_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed")]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise NasscoutError(
            f"unknown option {unknown[0]!r} for extrapolator {name!r}; accepted: {', '.join(accepted) or 'none'}"
        )
    return cls(seed=seed, **options)


__all__ = [
    "EXTRAPOLATORS",
    "CurveExtrapolator",
    "CurvePrediction",
    "Curves",
    "GaussianPrediction",
    "HistogramPrediction",
    "MixturePrediction",
    "extrapolator_class",
    "make_extrapolator",
]
