"""Random forest (scikit-learn) on the one-hot cell plus free side features.

The trees' spread is the classic uncertainty of a forest (as in SMAC); on its own it is over-confident, so
out-of-bag residuals add the variance that makes the 90% interval cover about 90% of held-out cells. On a
space without the ``path`` encoding, ``encoding='path'`` falls back to one-hot.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from predictors.base import (
    Predictor,
    SideFeatures,
    TargetTransform,
    calibrate,
    check_choice,
    check_number,
    held_out,
    output,
)
from surrogate.space import SearchSpace


class RandomForestPredictor(SideFeatures, Predictor):
    name = "rf"
    summary = "random forest (scikit-learn trees, bagged here) on one-hot ops + side features; OOB-calibrated std"
    quick_options: ClassVar[dict[str, Any]] = {"n_estimators": 60}

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        cell_features: np.ndarray | None = None,
        structure: bool = True,
        encoding: str = "onehot",
        n_estimators: int = 200,
        max_features: float = 0.5,
        min_samples_leaf: int = 1,
        target: str = "identity",
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.structure = structure
        self.encoding = encoding
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.target = target

    def _features(self, idx: np.ndarray) -> np.ndarray:
        parts = [self._encode(idx).reshape(len(idx), -1).astype(np.float32)]
        side = self._side(idx)
        if side is not None:
            parts.append(side.astype(np.float32))
        return np.concatenate(parts, axis=1)

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> RandomForestPredictor:
        from sklearn.tree import DecisionTreeRegressor

        idx, y = self._check_xy(archs, y)
        check_choice("encoding", self.encoding, ("onehot", "path"))
        n_trees = check_number("n_estimators", self.n_estimators, low=1, high=100000, integer=True)
        max_features = check_number("max_features", self.max_features, low=1e-3, high=1.0)
        leaf = check_number("min_samples_leaf", self.min_samples_leaf, low=1, integer=True)
        self.target_ = TargetTransform(self.target, y)
        z = self.target_.forward(y)
        X = self._features(idx)
        n = len(idx)
        rng = np.random.default_rng(self.seed)
        # bagging done here rather than inside RandomForestRegressor: the same trees, but each tree's
        # out-of-bag rows are known, which the interval calibration needs
        self.trees_ = []
        oob = np.full((n_trees, n), np.nan)
        for t in range(n_trees):
            rows = rng.integers(0, n, size=n) if n >= 3 else np.arange(n)
            tree = DecisionTreeRegressor(
                max_features=max_features,
                min_samples_leaf=leaf,
                random_state=int(rng.integers(2**31 - 1)),
            ).fit(X[rows], z[rows])
            self.trees_.append(tree)
            held = np.setdiff1d(np.arange(n), rows)
            if len(held):
                oob[t, held] = tree.predict(X[held])
        self.extra_var_, self.std_scale_ = self._calibrate(oob, z)
        self.held_out_, self.held_out_std_ = held_out(
            oob, self.target_, self.extra_var_, self.std_scale_
        )
        self.fitted_ = True
        return self

    @staticmethod
    def _calibrate(oob: np.ndarray, z: np.ndarray) -> tuple[float, float]:
        has = (~np.isnan(oob)).sum(axis=0) >= 2
        if has.sum() < 3:
            return 0.0, 1.0
        return calibrate(z[has] - np.nanmean(oob[:, has], axis=0), np.nanvar(oob[:, has], axis=0))

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        idx = self._check_predict(archs)
        if len(idx) == 0:
            return output(np.zeros(0), np.zeros(0), return_std)
        X = self._features(idx)
        trees = np.stack([t.predict(X) for t in self.trees_])
        std_z = self.std_scale_ * np.sqrt(trees.var(axis=0) + self.extra_var_)
        mean, std = self.target_.inverse(trees.mean(axis=0), std_z)
        return output(mean, std, return_std)
