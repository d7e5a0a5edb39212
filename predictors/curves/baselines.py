"""Baseline extrapolators: the last value, the best value so far, and SoTL-E (Ru et al., 2021).

Each reduces an observed curve to one statistic ``s`` and maps it to the value at the target epoch. Fitted on
complete curves, the map is calibrated per cutoff length ``k`` (the curve's own last observed epoch): an
ordinary least-squares line ``u_T = a_k + b_k * s`` over the training curves cut at ``k``, with the OLS
predictive standard deviation ``s_k * sqrt(1 + 1/n + (s - mean)^2 / Sxx)`` (``s_k`` the residual standard
deviation). So the spread shrinks as the cutoff grows, because the residuals do. Lines are fitted lazily for
the lengths a ``predict`` call needs and cached.

Without training curves, ``last`` and ``best`` return the raw statistic with a deliberately wide std,
``0.02 + 0.2 * (1 - k / T)`` in normalised units (a curve seen for half its epochs may still move about ten
points of accuracy). SoTL-E is a ranking score, not a value, so it needs training (``needs_training``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from predictors.curves.base import CurveExtrapolator, CurvePrediction, Curves, GaussianPrediction
from surrogate.errors import NasscoutError

UNFITTED_STD = (
    0.02,
    0.2,
)  # normalised std = a + b * (1 - k / T) when there is nothing to calibrate on


def _ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN gaps along epochs (a leading gap stays NaN)."""
    n, L = a.shape
    idx = np.where(~np.isnan(a), np.arange(L)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return a[np.arange(n)[:, None], idx]


class _StatisticBaseline(CurveExtrapolator):
    """A statistic of the observed curve, mapped to the target value by a per-cutoff OLS line."""

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__(seed=seed)

    @abstractmethod
    def _statistic(self, curves: Curves, u: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The statistic of each curve observed up to epoch ``k`` (one k per curve); NaN when unavailable."""

    def _fit(self, curves: Curves, target: int) -> None:
        for side in self.uses:
            if getattr(curves, side) is None:
                raise NasscoutError(
                    f"extrapolator {self.name!r} needs {side} with the training curves; none given"
                )
        self.train_ = curves.cut(target)
        self.train_u_ = self.train_.filled()
        self.target_ = target
        self.lines_: dict[tuple[int, int], tuple[float, float, float, float, float, int]] = {}

    def _line(self, k: int, target: int) -> tuple[float, float, float, float, float, int]:
        """(a, b, residual std, mean of s, Sxx, n) of the OLS line at cutoff ``k`` for ``target``."""
        key = (k, target)
        if key not in self.lines_:
            n = len(self.train_)
            s = self._statistic(self.train_, self.train_u_, np.full(n, k))
            y = self.train_u_[:, target - 1]
            ok = np.isfinite(s) & np.isfinite(y)
            s, y = s[ok], y[ok]
            if len(y) == 0:
                raise NasscoutError(
                    f"extrapolator {self.name!r} found no training curve with a usable statistic at "
                    f"epoch {k}; accepted: training curves with {', '.join(self.uses) or 'values'}"
                )
            sm = float(s.mean())
            sxx = float(np.sum((s - sm) ** 2))
            b = float(np.sum((s - sm) * (y - y.mean())) / sxx) if sxx > 1e-12 else 0.0
            a = float(y.mean() - b * sm)
            dof = max(len(y) - 2, 1)
            resid = float(np.sqrt(np.sum((y - a - b * s) ** 2) / dof)) if len(y) > 2 else 0.05
            self.lines_[key] = (a, b, max(resid, 1e-4), sm, sxx, len(y))
        return self.lines_[key]

    def _predict(self, curves: Curves, target: int) -> CurvePrediction:
        u = curves.filled()
        k = curves.lengths
        s = self._statistic(curves, u, k)
        if not self.fitted_:
            mu = np.clip(s, 0.0, 1.0)
            a, b = UNFITTED_STD
            return GaussianPrediction(curves, mu, a + b * (1.0 - k / target))
        if target > self.target_:
            raise NasscoutError(
                f"extrapolator {self.name!r} was fitted for epoch {self.target_}, not {target}; "
                f"accepted: targets up to {self.target_} (fit again on longer curves)"
            )
        mu = np.empty(len(curves))
        sd = np.empty(len(curves))
        for kk in np.unique(k):  # one line per distinct cutoff length, vectorised over its curves
            rows = k == kk
            a, b, r, sm, sxx, n = self._line(int(kk), target)
            x = s[rows]
            fallback = ~np.isfinite(
                x
            )  # no statistic for this curve: the training mean at full spread
            x = np.where(fallback, sm, x)
            lever = (x - sm) ** 2 / sxx if sxx > 1e-12 else 0.0
            mu[rows] = a + b * x
            sd[rows] = r * np.sqrt(1.0 + 1.0 / n + lever) * np.where(fallback, 2.0, 1.0)
        return GaussianPrediction(curves, np.clip(mu, 0.0, 1.0), sd)


class LastValue(_StatisticBaseline):
    name: ClassVar[str] = "last"
    summary: ClassVar[str] = "the last observed value (calibrated by a per-cutoff line when fitted)"

    def _statistic(self, curves: Curves, u: np.ndarray, k: np.ndarray) -> np.ndarray:
        return u[np.arange(len(u)), k - 1]


class BestSoFar(_StatisticBaseline):
    name: ClassVar[str] = "best"
    summary: ClassVar[str] = "the best value so far (calibrated by a per-cutoff line when fitted)"

    def _statistic(self, curves: Curves, u: np.ndarray, k: np.ndarray) -> np.ndarray:
        seen = np.arange(u.shape[1])[None, :] < k[:, None]
        return np.max(np.where(seen & ~np.isnan(u), u, -np.inf), axis=1)


class SoTLE(_StatisticBaseline):
    """Sum of the training losses of the last E observed epochs (Ru et al., 2021, "Speedy performance
    estimation for neural architecture search"); E = 1 by default, the last epoch's loss, as NASLib's SoTLE
    (by one of the authors) computes it; ``last_epochs`` sets E.
    Lower loss ranks higher; the fitted per-cutoff line turns the score into a value."""

    name: ClassVar[str] = "sotle"
    summary: ClassVar[str] = (
        "sum of training losses over the last E epochs (Ru et al. 2021), fitted"
    )
    needs_training: ClassVar[bool] = True
    uses: ClassVar[tuple[str, ...]] = ("train_loss",)

    def __init__(self, *, seed: int = 0, last_epochs: int = 1) -> None:
        super().__init__(seed=seed)
        if (
            isinstance(last_epochs, bool)
            or not isinstance(last_epochs, (int, np.integer))
            or last_epochs < 1
        ):
            raise NasscoutError(
                f"last_epochs={last_epochs!r} is invalid; accepted: an integer >= 1"
            )
        self.last_epochs = int(last_epochs)

    def _statistic(self, curves: Curves, u: np.ndarray, k: np.ndarray) -> np.ndarray:
        loss = _ffill(np.asarray(curves.train_loss, dtype=np.float64))
        loss = np.where(np.isfinite(loss), loss, np.nan)
        e = np.arange(loss.shape[1])[None, :]
        window = (e < k[:, None]) & (e >= (k - self.last_epochs)[:, None])
        vals = np.where(window, loss, np.nan)
        cnt = np.sum(window & ~np.isnan(loss), axis=1)
        total = np.nansum(vals, axis=1) * self.last_epochs / np.maximum(cnt, 1)
        return np.where(
            cnt > 0, total, np.nan
        )  # a missing loss in the window is filled by the mean
