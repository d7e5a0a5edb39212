"""The predictor contract: sklearn-style ``fit``/``predict`` on cells, with uncertainty.

``__init__`` only stores arguments; ``fit(archs, y)`` learns (state in attributes ending in ``_``) and returns
``self``; ``predict(archs, return_std=True)`` gives mean and standard deviation in the target's units (percent
accuracy). Every predictor works on the cells of the ``space`` its caller gives (a ``SearchSpace``, e.g.
``benchmark.space``; NB201 when none is given) and reads them only through the SearchSpace API, so one model
runs on NB201, TransNAS-Bench-101 micro and NAS-Bench-Graph alike. ``archs`` is anything ``space.indices``
accepts (an int index array is the fast path). Predictors are seeded and picklable, and every one passes the
shared contract test in ``tests/test_predictor_contract.py``. Trained models also keep ``held_out_`` and
``held_out_std_``: for each training cell a prediction (and its std) from the part of the model that did not
see it (leave-one-out, out-of-bag or out-of-fold; NaN where none exists), which the stacking ensemble uses.

Besides the contract this module holds what every model shares: option validators, target transforms and
interval calibration from held-out residuals. Side features live in ``predictors.features``, the torch
ensemble trainer in ``predictors.torch_ensemble`` (both names stay importable from here).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from predictors.features import (
    STRUCTURE_COLUMNS,
    SideFeatures,
    check_cell_features,
    consensus_score,
    default_space,
    model_encoding,
    rank_gauss,
    side_feature_table,
    structure_table,
)
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

Z90 = 1.6448536269514722  # two-sided 90% normal quantile: a 90% interval is mean +- Z90 * std


class Predictor(ABC):
    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""
    needs_training: ClassVar[bool] = True  # False for training-free proxies

    def __init__(self, *, seed: int = 0, space: SearchSpace | None = None) -> None:
        self.seed = seed
        self.space = space

    def _space(self) -> SearchSpace:
        """The space cells are read in: the caller's ``space``, NB201 when none was given."""
        if self.space is None:
            return default_space()
        if not isinstance(self.space, SearchSpace):
            raise NasscoutError(
                f"space={self.space!r} is invalid; accepted: a SearchSpace (e.g. benchmark.space) or None"
            )
        return self.space

    def check_applicable(self) -> None:
        """Raise a one-line NasscoutError when this predictor cannot work on its space/benchmark.

        Called by the evaluation harness before any work; trained models work on every space.
        """
        return None

    def _encode(self, idx: np.ndarray) -> np.ndarray:
        """The space's encoding named by ``self.encoding``, or ``onehot`` when the space lacks that kind
        (``path`` exists for NB201 and TransNAS micro, not for NAS-Bench-Graph)."""
        space = self._space()
        return space.encode(idx, model_encoding(space, self.encoding))

    def _check_xy(self, archs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        idx = self._space().indices(archs)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(idx) != len(y):
            raise NasscoutError(f"got {len(idx)} cells but {len(y)} targets; they must match")
        if len(y) == 0:
            raise NasscoutError("cannot fit on 0 cells; give at least 1")
        if not np.all(np.isfinite(y)):
            raise NasscoutError(
                f"targets contain {np.sum(~np.isfinite(y))} NaN/inf values; all must be finite"
            )
        return idx, y

    def _check_predict(self, archs: Any) -> np.ndarray:
        """Cells to predict as indices; fails clearly when ``fit`` has not run."""
        if self.needs_training and not getattr(self, "fitted_", False):
            raise NasscoutError(f"predictor {self.name!r} is not fitted; call fit(archs, y) first")
        return self._space().indices(archs)

    @abstractmethod
    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> Predictor:
        """Learn from cells and their targets; return self."""

    @abstractmethod
    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted target per cell (and its standard deviation when ``return_std``)."""

    def __getstate__(self) -> dict[str, Any]:
        # caches rebuilt on demand (``_cache_*``) stay out of pickles
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


def check_number(
    name: str, value: Any, *, low: float, high: float = np.inf, integer: bool = False
) -> Any:
    """Validate one numeric option at fit time (one-line NasscoutError naming it); returns it typed."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or not (low <= float(value) <= high):
        kind = "an integer" if integer else "a number"
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: {kind} in [{low}, {high}]")
    return int(value) if integer else float(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise NasscoutError(
            f"{name}={value!r} is invalid; accepted: {', '.join(map(repr, choices))}"
        )
    return value


def output(
    mean: np.ndarray, std: np.ndarray | None, return_std: bool
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    if not return_std:
        return mean
    return mean, np.maximum(np.asarray(std, dtype=np.float64), 0.0)


_BLAS: Any = None


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run numpy/scipy linear algebra on one thread for the duration (then restore).

    The small dense problems here (n <= a few thousand) gain nothing from threads, and on a shared,
    busy machine a multi-threaded OpenBLAS Cholesky of 500 x 500 was measured 100x slower than one thread.
    """
    global _BLAS
    if _BLAS is None:
        import scipy.linalg  # noqa: F401  (scipy ships its own OpenBLAS: load it before looking)
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


# ---- targets --------------------------------------------------------------------------------------------

TARGETS = ("identity", "log-error")


class TargetTransform:
    """Standardised model space for targets in percent, and the way back.

    ``log-error`` models log(100 - accuracy): errors of good cells spread out and the 10%-accuracy cells of
    disconnected networks stop dominating the scale; the way back is monotone, so rankings are untouched.
    """

    def __init__(self, kind: str, y: np.ndarray) -> None:
        self.kind = check_choice("target", kind, TARGETS)
        z = self._forward(y)
        self.mu = float(np.mean(z))
        sd = float(np.std(z))
        self.sd = sd if sd > 1e-12 else 1.0

    def _forward(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "log-error":
            return np.log(np.maximum(100.0 - y, 1e-2))
        return y

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (self._forward(y) - self.mu) / self.sd

    def inverse(
        self, mean_z: np.ndarray, std_z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model-space (mean, std) -> percent (point prediction, std).

        For ``log-error`` the point prediction is the median 100 - exp(m) (monotone in m, so rankings are
        the model's) and the std is the log-normal one.
        """
        m = np.asarray(mean_z) * self.sd + self.mu
        s = np.zeros_like(m) if std_z is None else np.asarray(std_z) * self.sd
        if self.kind == "identity":
            return m, s
        s2 = np.minimum(s**2, 50.0)
        std = np.exp(m) * np.sqrt(np.exp(s2) * np.expm1(s2))
        return 100.0 - np.exp(m), std


# ---- interval calibration -----------------------------------------------------------------------------


def calibrate(
    residuals: np.ndarray, variance: np.ndarray, level: float = 0.9
) -> tuple[float, float]:
    """(extra variance, scale) so that std = scale * sqrt(variance + extra) covers ``level`` of residuals.

    Ensembles of trees or networks can be over- or under-confident; held-out (out-of-bag / out-of-fold)
    residuals say which. The extra variance is the ``level`` quantile, over rows, of the variance each row
    would need to be covered (so members that agree on a wrong value still get an honest interval); the
    scale then shrinks intervals that the members' spread alone made too wide. Both are set on the held-out
    rows, so the interval is calibrated there by construction, and robust to the few huge misses of
    disconnected cells.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    ok = np.isfinite(residuals) & np.isfinite(variance)
    if ok.sum() < 3:
        return (float(np.mean(residuals[ok] ** 2)) if ok.any() else 0.0), 1.0
    z = float(np.sqrt(2.0) * _erfinv(level))
    r, v = residuals[ok], variance[ok]
    extra = float(max(np.quantile((r / z) ** 2 - v, level), 0.0))
    sd = np.sqrt(v + extra)
    if np.all(sd > 0):
        scale = float(np.quantile(np.abs(r) / sd, level) / z)
        return extra, float(min(max(scale, 1e-3), 1.0))
    return extra, 1.0


def held_out(
    pred: np.ndarray, target: TargetTransform, extra: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per training row, (mean, std) in percent of the members that did not see it (NaN if all saw it).

    ``pred`` is (members, rows) in model space with NaN where a member saw the row; the std is the
    calibrated one (``scale * sqrt(spread + extra)``). Predictors keep these as ``held_out_`` and
    ``held_out_std_``: honest predictions on their own training cells, which the stacking ensemble weighs
    and calibrates its members by.
    """
    seen = np.isfinite(pred)
    count = seen.sum(axis=0)
    safe = np.maximum(count, 1)
    mean_z = np.where(seen, pred, 0.0).sum(axis=0) / safe
    var_z = np.where(seen, (pred - mean_z) ** 2, 0.0).sum(axis=0) / safe
    mean, std = target.inverse(mean_z, scale * np.sqrt(var_z + extra))
    return np.where(count > 0, mean, np.nan), np.where(count > 0, std, np.nan)


def _erfinv(x: float) -> float:
    from scipy.special import erfinv

    return float(erfinv(x))


# the torch trainer lives in predictors.torch_ensemble (torch imported only when a model trains); these names
# stay importable from here for the models written against this module
_TORCH_NAMES = (
    "TorchEnsemble",
    "glorot",
    "init_uniform",
    "member_rows",
    "predict_members",
    "torch_device",
    "torch_session",
    "train_members",
)


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from predictors import torch_ensemble

        return getattr(torch_ensemble, name)
    raise AttributeError(f"module 'predictors.base' has no attribute {name!r}")


__all__ = [
    "STRUCTURE_COLUMNS",
    "Predictor",
    "SideFeatures",
    "TargetTransform",
    "Z90",
    "calibrate",
    "check_cell_features",
    "consensus_score",
    "output",
    "rank_gauss",
    "side_feature_table",
    "structure_table",
]
