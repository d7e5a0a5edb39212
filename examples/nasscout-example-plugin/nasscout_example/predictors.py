"""Ridge regression on the one-hot encoding, with a Bayesian-linear-model standard deviation."""

from __future__ import annotations

from typing import Any

import numpy as np

from predictors.base import Predictor
from surrogate.space import SearchSpace


class RidgeOneHot(Predictor):
    """Bayesian ridge regression on one-hot ops: the posterior mean, and the predictive std from the
    posterior covariance plus the residual noise. ``alpha`` is the prior precision."""

    name = "ridge-onehot"
    summary = "Bayesian ridge regression on one-hot ops (example plugin)"

    def __init__(self, *, seed: int = 0, space: SearchSpace | None = None, alpha: float = 1.0):
        super().__init__(seed=seed, space=space)
        self.alpha = alpha

    def _x(self, idx: np.ndarray) -> np.ndarray:
        x = self._space().encode(idx, "onehot").reshape(len(idx), -1).astype(np.float64)
        return np.hstack([x, np.ones((len(idx), 1))])

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> RidgeOneHot:
        idx, y = self._check_xy(archs, y)
        x = self._x(idx)
        self.mu_ = float(y.mean())
        a = x.T @ x + float(self.alpha) * np.eye(x.shape[1])
        self.cov_ = np.linalg.inv(a)
        self.w_ = self.cov_ @ x.T @ (y - self.mu_)
        resid = y - self.mu_ - x @ self.w_
        self.noise_ = float(np.sqrt(np.mean(resid**2) + 1e-6))
        self.fitted_ = True
        return self

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        idx = self._check_predict(archs)
        x = self._x(idx)
        mean = self.mu_ + x @ self.w_
        if not return_std:
            return mean
        var = self.noise_**2 * (1.0 + np.einsum("ij,jk,ik->i", x, self.cov_, x))
        return mean, np.sqrt(var)
