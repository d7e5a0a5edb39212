"""The learning-curve extrapolator contract: partial curves in, a predictive distribution at epoch T out.

A ``Curves`` batch holds n curves as an (n, L) array in the metric's units with NaN where nothing was
observed (the tail of a shorter curve, or a missing epoch): mixed lengths are the normal case. Every
extrapolator works internally on *normalised* values, ``u = (y - lo) / (hi - lo)`` flipped so that higher is
better, in [0, 1]: the parametric families of Domhan et al. (2015) and the LC-PFN prior are defined there,
and log-likelihoods are reported there so that percent-accuracy and [0, 1] sources compare.

``fit(curves)`` learns from complete curves (optional: ``needs_training`` says whether it is required);
``predict(partial, target)`` returns a ``CurvePrediction`` for the value at epoch ``target`` (1-based) of
every curve, in the metric's units: ``mean``, ``std``, ``quantiles(q)``, ``prob_above(t)`` and ``logpdf(y)``.
Extrapolators are seeded; the same seed gives the same prediction bit for bit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from scipy import special, stats

from surrogate.errors import NasscoutError


@dataclass(frozen=True)
class Curves:
    """n curves, (n, L) values with NaN for unobserved epochs; optional side data per curve."""

    values: np.ndarray  # (n, L) float64, metric units, NaN = not observed
    bounds: tuple[float, float] = (0.0, 100.0)  # the metric's range (percent accuracy by default)
    higher_is_better: bool = True
    train_loss: np.ndarray | None = None  # (n, L) training loss per epoch (SoTL), NaN where missing
    features: np.ndarray | None = None  # (n, d) architecture encoding (LcSVR), finite
    cost: np.ndarray | None = None  # (n, L) seconds per epoch, for charging an early-stopped run

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=np.float64)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2 or v.shape[1] == 0:
            raise NasscoutError(
                f"curves of shape {np.shape(self.values)} are invalid; accepted: (n_curves, n_epochs)"
            )
        lo, hi = (float(b) for b in self.bounds)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise NasscoutError(
                f"bounds={self.bounds!r} are invalid; accepted: (low, high) with low < high"
            )
        if np.isinf(v).any():
            i, j = np.argwhere(np.isinf(v))[0]
            raise NasscoutError(
                f"curve {i} epoch {j + 1} is infinite; accepted: finite values or NaN"
            )
        seen = ~np.isnan(v)
        if not seen.any(axis=1).all():
            i = int(np.flatnonzero(~seen.any(axis=1))[0])
            raise NasscoutError(
                f"curve {i} has no observed value; accepted: at least one epoch per curve"
            )
        tol = 1e-6 * (hi - lo)
        bad = seen & ((v < lo - tol) | (v > hi + tol))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise NasscoutError(
                f"curve {i} epoch {j + 1} = {v[i, j]:g} is outside the metric's range; accepted: "
                f"values in [{lo:g}, {hi:g}]"
            )
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "bounds", (lo, hi))
        for name in ("train_loss", "cost"):
            a = getattr(self, name)
            if a is not None:
                a = np.asarray(a, dtype=np.float64)
                if a.shape != v.shape:
                    raise NasscoutError(
                        f"{name} of shape {a.shape} does not match the curves {v.shape}; accepted: the same shape"
                    )
                object.__setattr__(self, name, a)
        if self.features is not None:
            f = np.asarray(self.features, dtype=np.float64)
            if f.ndim != 2 or len(f) != len(v) or not np.isfinite(f).all():
                raise NasscoutError(
                    f"features of shape {f.shape} are invalid; accepted: finite (n_curves={len(v)}, d)"
                )
            object.__setattr__(self, "features", f)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def n_epochs(self) -> int:
        return self.values.shape[1]

    @property
    def observed(self) -> np.ndarray:
        """(n, L) bool mask of observed epochs."""
        return ~np.isnan(self.values)

    @property
    def lengths(self) -> np.ndarray:
        """(n,) the last observed epoch of each curve (1-based): what the extrapolator has seen."""
        seen = self.observed
        return self.n_epochs - np.argmax(seen[:, ::-1], axis=1)

    def normalised(self) -> np.ndarray:
        """Values mapped to [0, 1], higher is better; NaN stays NaN."""
        lo, hi = self.bounds
        u = (self.values - lo) / (hi - lo)
        return np.clip(u if self.higher_is_better else 1.0 - u, 0.0, 1.0)

    def to_units(self, u: np.ndarray) -> np.ndarray:
        """Normalised values back to the metric's units."""
        lo, hi = self.bounds
        return lo + (hi - lo) * (u if self.higher_is_better else 1.0 - u)

    def filled(self) -> np.ndarray:
        """Normalised values with gaps forward-filled (and leading gaps back-filled), up to each length."""
        u = self.normalised()
        n, L = u.shape
        idx = np.where(~np.isnan(u), np.arange(L)[None, :], 0)
        np.maximum.accumulate(idx, axis=1, out=idx)
        out = u[np.arange(n)[:, None], idx]
        first = u[np.arange(n), np.argmax(~np.isnan(u), axis=1)]
        out = np.where(np.isnan(out), first[:, None], out)
        out[np.arange(L)[None, :] >= self.lengths[:, None]] = np.nan
        return out

    def cut(self, epochs: Any) -> Curves:
        """The first ``epochs`` epochs of every curve (an int, or one int per curve); the rest becomes NaN."""
        k = np.broadcast_to(np.asarray(epochs), (len(self),)).astype(np.int64)
        if (k < 1).any():
            raise NasscoutError(f"cutoff {int(k.min())} is invalid; accepted: at least 1 epoch")
        keep = np.arange(self.n_epochs)[None, :] < k[:, None]
        mask = lambda a: None if a is None else np.where(keep, a, np.nan)  # noqa: E731
        return replace(
            self,
            values=np.where(keep, self.values, np.nan),
            train_loss=mask(self.train_loss),
            cost=mask(self.cost),
        )

    def subset(self, rows: Any) -> Curves:
        rows = np.asarray(rows)
        take = lambda a: None if a is None else a[rows]  # noqa: E731
        return replace(
            self,
            values=self.values[rows],
            train_loss=take(self.train_loss),
            features=take(self.features),
            cost=take(self.cost),
        )


class CurvePrediction(ABC):
    """A predictive distribution per curve, in normalised units internally; public methods use metric units."""

    def __init__(self, curves: Curves) -> None:
        self._lo, self._hi = curves.bounds
        self._higher = curves.higher_is_better

    # --- subclasses define these on normalised values u in [0, 1] (higher is better) ---
    @abstractmethod
    def _mean(self) -> np.ndarray: ...

    @abstractmethod
    def _var(self) -> np.ndarray: ...

    @abstractmethod
    def _cdf(self, u: np.ndarray) -> np.ndarray:
        """P(U <= u) per curve; ``u`` has shape (n, m)."""

    @abstractmethod
    def _logpdf(self, u: np.ndarray) -> np.ndarray:
        """log density of U at ``u`` (n,), per unit of normalised value."""

    # --- public, metric units ---
    def _to_units(self, u: np.ndarray) -> np.ndarray:
        u = u if self._higher else 1.0 - u
        return self._lo + (self._hi - self._lo) * u

    def _to_u(self, y: np.ndarray) -> np.ndarray:
        u = (np.asarray(y, dtype=np.float64) - self._lo) / (self._hi - self._lo)
        return u if self._higher else 1.0 - u

    @property
    def mean(self) -> np.ndarray:
        return self._to_units(self._mean())

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self._var(), 0.0)) * (self._hi - self._lo)

    def quantiles(self, q: Any) -> np.ndarray:
        """(n, len(q)) quantiles in metric units, non-decreasing in q (bisection on the CDF, vectorised)."""
        q = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if not ((q > 0) & (q < 1)).all():
            raise NasscoutError(
                f"quantile levels {q.tolist()} are invalid; accepted: values in (0, 1)"
            )
        n = len(self._mean())
        lo = np.full((n, len(q)), -0.5)
        hi = np.full((n, len(q)), 1.5)
        for _ in range(50):  # 2 / 2**50: far below float32 resolution of any metric
            mid = 0.5 * (lo + hi)
            below = self._cdf(mid) < q[None, :]
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        u = np.sort(0.5 * (lo + hi), axis=1)
        out = self._to_units(u)
        return out if self._higher else out[:, ::-1]

    def prob_above(self, threshold: Any) -> np.ndarray:
        """P(value at T is better than ``threshold``) per curve (``threshold`` a scalar or one per curve)."""
        n = len(self._mean())
        u = np.broadcast_to(self._to_u(threshold), (n,)).astype(np.float64)
        return 1.0 - self._cdf(u[:, None])[:, 0]

    def logpdf(self, y: Any) -> np.ndarray:
        """Log density of the observed final values ``y`` (metric units) per unit of *normalised* value."""
        n = len(self._mean())
        return self._logpdf(np.broadcast_to(self._to_u(y), (n,)).astype(np.float64))


class GaussianPrediction(CurvePrediction):
    """Normal(mean, std) in normalised units: the baselines' and LcSVR's predictive distribution."""

    def __init__(self, curves: Curves, mean_u: np.ndarray, std_u: np.ndarray) -> None:
        super().__init__(curves)
        self.mu = np.asarray(mean_u, dtype=np.float64)
        self.sigma = np.maximum(np.asarray(std_u, dtype=np.float64), 1e-6)

    def _mean(self) -> np.ndarray:
        return self.mu

    def _var(self) -> np.ndarray:
        return self.sigma**2

    def _cdf(self, u: np.ndarray) -> np.ndarray:
        return special.ndtr((u - self.mu[:, None]) / self.sigma[:, None])

    def _logpdf(self, u: np.ndarray) -> np.ndarray:
        return stats.norm.logpdf(u, self.mu, self.sigma)


class MixturePrediction(CurvePrediction):
    """A weighted mixture of S normals per curve: posterior samples of a parametric model plus its noise.

    ``means``/``stds`` are (n, S), ``weights`` (n, S) or (S,) summing to 1 per curve.
    """

    def __init__(
        self,
        curves: Curves,
        means: np.ndarray,
        stds: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        super().__init__(curves)
        self.means = np.asarray(means, dtype=np.float64)
        self.stds = np.maximum(np.broadcast_to(stds, self.means.shape).astype(np.float64), 1e-6)
        n, s = self.means.shape
        w = np.full((n, s), 1.0 / s) if weights is None else np.broadcast_to(weights, (n, s))
        self.weights = np.asarray(w, dtype=np.float64) / np.sum(w, axis=1, keepdims=True)

    def _mean(self) -> np.ndarray:
        return np.sum(self.weights * self.means, axis=1)

    def _var(self) -> np.ndarray:
        m = self._mean()[:, None]
        return np.sum(self.weights * (self.stds**2 + (self.means - m) ** 2), axis=1)

    def _cdf(self, u: np.ndarray) -> np.ndarray:
        z = (u[:, :, None] - self.means[:, None, :]) / self.stds[:, None, :]
        return np.sum(self.weights[:, None, :] * special.ndtr(z), axis=2)

    def _logpdf(self, u: np.ndarray) -> np.ndarray:
        lp = stats.norm.logpdf(u[:, None], self.means, self.stds) + np.log(self.weights + 1e-300)
        return special.logsumexp(lp, axis=1)


class HistogramPrediction(CurvePrediction):
    """Piecewise-uniform density over bins of [0, 1] (normalised): a PFN's discretised output.

    ``edges`` is (B+1,) increasing from 0 to 1, ``probs`` (n, B) summing to 1 per curve.
    """

    def __init__(self, curves: Curves, edges: np.ndarray, probs: np.ndarray) -> None:
        super().__init__(curves)
        self.edges = np.asarray(edges, dtype=np.float64)
        p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
        self.probs = p / p.sum(axis=1, keepdims=True)
        self._cum = np.concatenate([np.zeros((len(p), 1)), np.cumsum(self.probs, axis=1)], axis=1)

    def _centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def _mean(self) -> np.ndarray:
        return self.probs @ self._centres()

    def _var(self) -> np.ndarray:
        c, w = self._centres(), np.diff(self.edges)
        second = self.probs @ (c**2 + w**2 / 12.0)
        return second - self._mean() ** 2

    def _cdf(self, u: np.ndarray) -> np.ndarray:
        n = len(self.probs)
        uc = np.clip(u, self.edges[0], self.edges[-1])
        b = np.clip(np.searchsorted(self.edges, uc, side="right") - 1, 0, len(self.edges) - 2)
        frac = (uc - self.edges[b]) / np.diff(self.edges)[b]
        rows = np.arange(n)[:, None]
        return self._cum[rows, b] + frac * self.probs[rows, b]

    def _logpdf(self, u: np.ndarray) -> np.ndarray:
        n = len(self.probs)
        uc = np.clip(u, self.edges[0], self.edges[-1])
        b = np.clip(np.searchsorted(self.edges, uc, side="right") - 1, 0, len(self.edges) - 2)
        dens = self.probs[np.arange(n), b] / np.diff(self.edges)[b]
        return np.log(np.maximum(dens, 1e-300))


class CurveExtrapolator(ABC):
    """Fit (optionally) on complete curves; predict the value at a target epoch from partial ones."""

    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""
    needs_training: ClassVar[bool] = (
        False  # True: ``fit`` on complete curves is required before predict
    )
    uses: ClassVar[tuple[str, ...]] = ()  # side data it reads: "train_loss", "features"

    def __init__(self, *, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise NasscoutError(f"seed={seed!r} is invalid; accepted: an integer >= 0")
        self.seed = int(seed)
        self.fitted_ = False

    def fit(self, curves: Curves, target: int | None = None) -> CurveExtrapolator:
        """Learn from complete curves (each observed up to ``target``, default its full length)."""
        if not isinstance(curves, Curves):
            raise NasscoutError(f"fit needs a Curves batch, got {type(curves).__name__}")
        target = (
            curves.n_epochs if target is None else self._check_target(curves, target, partial=False)
        )
        self._fit(curves, target)
        self.fitted_ = True
        return self

    def predict(self, curves: Curves, target: int) -> CurvePrediction:
        """The predictive distribution of each curve's value at epoch ``target`` (1-based)."""
        if not isinstance(curves, Curves):
            raise NasscoutError(f"predict needs a Curves batch, got {type(curves).__name__}")
        if self.needs_training and not self.fitted_:
            raise NasscoutError(
                f"extrapolator {self.name!r} must be fitted on complete curves first"
            )
        for side in self.uses:
            if getattr(curves, side) is None:
                raise NasscoutError(
                    f"extrapolator {self.name!r} needs {side} with the curves; none given"
                )
        target = self._check_target(curves, target, partial=True)
        return self._predict(curves, target)

    def _fit(self, curves: Curves, target: int) -> None:  # noqa: B027 - training-free by default
        """Learn from complete curves; the default needs nothing."""

    @abstractmethod
    def _predict(self, curves: Curves, target: int) -> CurvePrediction: ...

    @staticmethod
    def _check_target(curves: Curves, target: Any, *, partial: bool) -> int:
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 2:
            raise NasscoutError(f"target epoch {target!r} is invalid; accepted: an integer >= 2")
        target = int(target)
        longest = int(curves.lengths.max())
        if partial and longest >= target:
            raise NasscoutError(
                f"a curve is observed up to epoch {longest}, at or past the target epoch {target}; "
                "accepted: cutoffs below the target"
            )
        if not partial and target > curves.n_epochs:
            raise NasscoutError(
                f"target epoch {target} is past the curves' {curves.n_epochs} epochs; accepted: <= {curves.n_epochs}"
            )
        if not partial and (curves.lengths < target).any():
            i = int(np.flatnonzero(curves.lengths < target)[0])
            raise NasscoutError(
                f"training curve {i} stops at epoch {int(curves.lengths[i])}, before the target {target}; "
                "accepted: complete curves"
            )
        return target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


def describe(extrapolator: CurveExtrapolator) -> dict[str, Any]:
    return {"name": extrapolator.name, "summary": extrapolator.summary, "seed": extrapolator.seed}
