"""Stacking ensemble: a few different predictors, weighted by how well they predict cells they did not see.

Every trained predictor keeps ``held_out_`` predictions on its training cells (GP: leave-one-out in closed
form; XGBoost/forest: out-of-bag; torch ensembles: out-of-fold), so stacking costs no refits: non-negative
least squares of the targets on those held-out predictions (plus an intercept) gives the weights, normalised
to a blend. Below ``min_stack`` cells (100) held-out predictions are too few and too noisy to weigh members
by (measured: stacking on 10-23 cells ranked worse than the GP alone), so the ensemble is its first member;
from about 200 cells the GP, boosted trees and the graph network make different errors and the blend ranks
better than any of them (see the report's table).
The predictive variance is the weighted mean of the members' variances, calibrated on the held-out rows
(the blend errs less than its members, so their variance alone made the 90% interval cover ~96%).
Members are built on the ensemble's ``space``, so the ensemble runs wherever its members do.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from predictors.base import Predictor, calibrate, check_cell_features, check_number, output
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

DEFAULT_MEMBERS = ("gp", "xgb", "gin")


class EnsemblePredictor(Predictor):
    name = "ensemble"
    summary = "stacking of gp + xgb + gin, weighted by least squares (>= 0) on held-out predictions"
    quick_options: ClassVar[dict[str, Any]] = {
        "member_options": {"gp": {"n_restarts": 0}, "gin": {"epochs": 20, "min_steps": 150}}
    }

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        cell_features: np.ndarray | None = None,
        members: tuple[str, ...] | list[str] | str = DEFAULT_MEMBERS,
        member_options: dict[str, dict[str, Any]] | None = None,
        min_stack: int = 100,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.members = members
        self.member_options = member_options
        self.min_stack = min_stack

    def _member_names(self) -> list[str]:
        from predictors.registry import PREDICTORS

        names = self.members.split(",") if isinstance(self.members, str) else list(self.members)
        names = [n.strip() for n in names if n.strip()]
        bad = [n for n in names if n not in PREDICTORS or n == self.name]
        if not names or bad or len(set(names)) != len(names):
            accepted = ", ".join(n for n in PREDICTORS if n != self.name)
            raise NasscoutError(
                f"members={self.members!r} is invalid; accepted: distinct names from {accepted}"
            )
        return names

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> EnsemblePredictor:
        from scipy.optimize import nnls

        from predictors.registry import make_predictor, predictor_class

        idx, y = self._check_xy(archs, y)
        names = self._member_names()
        options = dict(self.member_options or {})
        unknown = [k for k in options if k not in names]
        if unknown:
            raise NasscoutError(
                f"member_options names {unknown[0]!r}, not a member; members: {', '.join(names)}"
            )
        if self.cell_features is not None:
            check_cell_features(self.cell_features, self._space())
        min_stack = check_number("min_stack", self.min_stack, low=0, high=10**9, integer=True)
        if len(idx) < min_stack:
            names = names[:1]  # too few cells to tell members apart: the first member alone
        rng = np.random.default_rng(self.seed)
        self.models_ = []
        for name in names:
            opts = dict(options.get(name, {}))
            accepts = inspect.signature(predictor_class(name).__init__).parameters
            if self.cell_features is not None and "cell_features" in accepts:
                opts.setdefault("cell_features", self.cell_features)
            if self.space is not None and "space" in accepts:
                opts.setdefault("space", self.space)  # members read cells in the ensemble's space
            model = make_predictor(name, seed=int(rng.integers(2**31 - 1)), **opts)
            self.models_.append(model.fit(idx, y) if model.needs_training else model)
        nan = np.full(len(y), np.nan)
        held = np.column_stack([getattr(m, "held_out_", nan) for m in self.models_])
        held_std = np.column_stack([getattr(m, "held_out_std_", nan) for m in self.models_])
        self.weights_, self.intercept_ = self._stack(held, y, nnls)
        self.held_out_ = self.intercept_ + held @ self.weights_
        # the blend errs less than its members, so their spread alone over-covers: calibrate the blend's
        # interval on the held-out rows, with the members' held-out variance as the starting point
        self.held_out_std_ = np.sqrt((held_std**2) @ self.weights_)
        self.extra_var_, self.std_scale_ = 0.0, 1.0
        if len(self.models_) > 1:
            self.extra_var_, self.std_scale_ = calibrate(y - self.held_out_, self.held_out_std_**2)
        self.fitted_ = True
        return self

    @staticmethod
    def _stack(held: np.ndarray, y: np.ndarray, nnls: Any) -> tuple[np.ndarray, float]:
        """Non-negative weights and an intercept from rows where every member has a held-out value."""
        k = held.shape[1]
        ok = np.all(np.isfinite(held), axis=1)
        if k > 1 and ok.sum() >= k + 2:
            X, t = held[ok], y[ok]
            mx, mt = X.mean(axis=0), t.mean()
            w, _ = nnls(X - mx, t - mt)
            if w.sum() > 1e-9:
                w = w / w.sum()  # blend, not rescale: predictions keep the members' units
                return w, float(mt - mx @ w)
        return np.full(k, 1.0 / k), 0.0

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        idx = self._check_predict(archs)
        if len(idx) == 0:
            return output(np.zeros(0), np.zeros(0), return_std)
        active = [(w, m) for w, m in zip(self.weights_, self.models_, strict=True) if w > 0]
        preds = [m.predict(idx, return_std=True) for _, m in active]
        w = np.array([a[0] for a in active])
        means = np.stack([p[0] for p in preds])
        mean = self.intercept_ + w @ means
        if not return_std:
            return mean
        var = w @ np.stack([p[1] for p in preds]) ** 2
        return output(mean, self.std_scale_ * np.sqrt(var + self.extra_var_), True)

    def weights(self) -> dict[str, float]:
        """Fitted stacking weight of each member, by name."""
        self._check_predict([])
        return {m.name: float(w) for w, m in zip(self.weights_, self.models_, strict=True)}
