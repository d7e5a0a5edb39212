"""What a curve surrogate learns from learning curves with numpy alone: a few numbers per curve, and its noise.

A validation curve (T epochs, percent) is written as a handful of latent numbers that a predictor can learn
from the architecture, in one of two representations (both in logit space, ``z = log(y / (100 - y))``, so
every curve read back lies strictly inside 0-100 whatever the predictor says):

- ``svd`` (NAS-Bench-x11, Yan et al. 2021): ``z = center + coef @ basis``, the first ``k`` right singular
  vectors of the centred training curves. Any shape the data has (a dip, a plateau, a late rise) is one of
  its directions. ``k`` is an option (default 5): on our curves the variance is spread thinly (the first 5
  components hold 67% of the mini set's, 61% of the long set's: early epochs are mostly noise), so a variance
  rule would take them all; more components rank finals better but fit more of the noise into the curves
  (``benchmarks/bench_curve_surrogate.py`` measures 3, 5 and 8).
- ``param``: the 3-parameter power law ``z(t) = c - a * t**(-alpha)`` per curve (the ``pow3`` family of
  Domhan et al. 2015), fitted by a grid over ``alpha`` and closed-form least squares for (c, a), vectorised
  over curves. Monotone saturating by construction: it cannot express a dip or a late rise.

The noise (:class:`CurveNoise`) is what the representation does not explain: per training cell and seed, the
seed's curve minus the cell's own smooth fit (its reconstruction from its own latent numbers, not a
prediction: prediction error is architecture error, not noise). With several seeds per cell that residual
holds the seed-to-seed offset and the epoch-to-epoch jitter; with one seed (our Fashion-MNIST sets so far) the
jitter only, so the between-seed offset is not modelled there (the file says which). A virtual training run
of any cell is its predicted smooth curve plus the residual curves of one donor from the same bin of final
accuracy, seeds in random order: the real residuals' shape across epochs (large and skewed in the first
epochs, small late) and their spread between cells are kept, as ``surrogate.fitted_parts.SeedNoise`` does for
final values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.fitted_parts import BinnedPool

CURVE_METHODS = ("svd", "param")
EPS = 0.05  # percent: curves are clipped into [EPS, 100 - EPS] before the logit
MAX_COMPONENTS = 8
DEFAULT_COMPONENTS = 5
ALPHAS = np.geomspace(0.2, 4.0, 60)  # the power law's exponent grid
MAX_BINS = 8
CELLS_PER_BIN = 20
MAX_LEVERAGE = 0.75


def to_latent(y: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(y, dtype=np.float64), EPS, 100.0 - EPS) / 100.0
    return np.log(p / (1.0 - p))


def from_latent(z: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def check_method(method: Any) -> str:
    if method not in CURVE_METHODS:
        raise NasscoutError(f"unknown curve model {method!r}; accepted: {', '.join(CURVE_METHODS)}")
    return str(method)


def fit_representation(
    method: str, curves: np.ndarray, n_components: int | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Latent numbers (n, k) of complete curves (n, T) and the shared arrays that read them back."""
    check_method(method)
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[1] < 3 or not np.all(np.isfinite(curves)):
        raise NasscoutError(
            f"curves must be a finite (cells, epochs >= 3) table, got shape {curves.shape}"
        )
    z = to_latent(curves)
    T = z.shape[1]
    if method == "svd":
        center = z.mean(axis=0)
        _, s, vt = np.linalg.svd(z - center, full_matrices=False)
        k = DEFAULT_COMPONENTS if n_components is None else n_components
        k = int(np.clip(k, 1, min(MAX_COMPONENTS, len(s))))
        basis = vt[:k]
        return (z - center) @ basis.T, {"center": center, "basis": basis}
    t = np.arange(1, T + 1, dtype=np.float64)
    # per alpha: least squares of z on [1, -t**-alpha] for every curve at once
    g = -(t[None, :] ** -ALPHAS[:, None])  # (A, T)
    gm = g.mean(axis=1, keepdims=True)
    gc = g - gm
    zm = z.mean(axis=1, keepdims=True)
    a = (gc @ (z - zm).T) / np.sum(gc**2, axis=1, keepdims=True)  # (A, n)
    c = zm.T - a * gm  # (A, n)
    sse = np.sum((z[None, :, :] - c[:, :, None] - a[:, :, None] * g[:, None, :]) ** 2, axis=2)
    best = np.argmin(sse, axis=0)
    cols = np.arange(len(z))
    params = np.column_stack([c[best, cols], a[best, cols], np.log(ALPHAS[best])])
    return params, {"center": np.zeros(T), "basis": np.zeros((0, T))}


def leverage(method: str, shared: dict[str, np.ndarray]) -> np.ndarray:
    """Per epoch, the hat matrix's diagonal of a curve's own smooth fit: sum of squared basis loadings
    (orthonormal SVD basis), or parameters / epochs for the power law (3 numbers fitted to T points)."""
    basis = np.asarray(shared["basis"], dtype=np.float64)
    T = len(shared["center"])
    if method == "svd":
        return np.sum(basis**2, axis=0)
    return np.full(T, 3.0 / T)


def reconstruct(method: str, latent: np.ndarray, shared: dict[str, np.ndarray]) -> np.ndarray:
    """Curves in percent (n, T) from latent numbers (n, k): strictly inside 0-100."""
    latent = np.asarray(latent, dtype=np.float64)
    center = np.asarray(shared["center"], dtype=np.float64)
    if method == "svd":
        return from_latent(center + latent @ np.asarray(shared["basis"], dtype=np.float64))
    t = np.arange(1, len(center) + 1, dtype=np.float64)
    c, a, log_alpha = latent[:, :1], latent[:, 1:2], latent[:, 2:3]
    return from_latent(c - a * t[None, :] ** -np.exp(log_alpha))


class CurveNoise(BinnedPool):
    """Donor residual curves by bins of the smooth final value: ``edges`` (inner bin edges), ``pool``
    (donors, seeds, T), ``offsets`` (bin b holds ``pool[offsets[b]:offsets[b + 1]]``)."""

    def __init__(self, edges: np.ndarray, pool: np.ndarray, offsets: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.pool = np.asarray(pool, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        ok = self.pool.ndim == 3 and len(self.pool) >= 1 and np.all(np.isfinite(self.pool))
        ok = ok and len(self.offsets) == len(self.edges) + 2 and self.offsets[0] == 0
        ok = ok and self.offsets[-1] == len(self.pool) and np.all(np.diff(self.offsets) >= 0)
        if not ok:
            raise NasscoutError(
                "curve noise tables are inconsistent (pool, bins and offsets disagree)"
            )

    @classmethod
    def fit(
        cls, per_seed: np.ndarray, smooth: np.ndarray, leverage: np.ndarray | None = None
    ) -> CurveNoise:
        """From donors' per-seed curves (n, seeds, T) and their smooth fits (n, T).

        ``leverage`` (T,): the share of a curve's own noise its smooth fit absorbs at each epoch (the hat
        matrix's diagonal, :func:`leverage`); residuals are scaled by ``1 / sqrt(1 - leverage)`` so the
        pool has the noise's variance rather than the smaller variance of in-sample residuals."""
        per_seed = np.asarray(per_seed, dtype=np.float64)
        smooth = np.asarray(smooth, dtype=np.float64)
        if per_seed.ndim != 3 or smooth.shape != (per_seed.shape[0], per_seed.shape[2]):
            raise NasscoutError(
                f"donor curves {per_seed.shape} and smooth fits {smooth.shape} do not match"
            )
        if len(per_seed) == 0 or not np.all(np.isfinite(per_seed)):
            raise NasscoutError("curve noise needs at least one donor with every seed recorded")
        resid = per_seed - smooth[:, None, :]
        if leverage is not None:
            h = np.clip(np.asarray(leverage, dtype=np.float64), 0.0, MAX_LEVERAGE)
            resid = resid / np.sqrt(1.0 - h)
        final = smooth[:, -1]
        n_bins = int(np.clip(len(final) // CELLS_PER_BIN, 1, MAX_BINS))
        edges = np.unique(np.quantile(final, np.linspace(0, 1, n_bins + 1)[1:-1]))
        cell_bin = np.searchsorted(edges, final, side="right")
        order = np.argsort(cell_bin, kind="stable")
        counts = np.bincount(cell_bin, minlength=len(edges) + 1)
        return cls(edges, resid[order], np.concatenate([[0], np.cumsum(counts)]))

    @property
    def n_seeds(self) -> int:
        return int(self.pool.shape[1])

    def assign(self, finals: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, a donor from its bin (the nearest non-empty bin) and a random order of its seeds."""
        finals = np.asarray(finals, dtype=np.float64)
        b = np.searchsorted(self.edges, finals, side="right")
        size = np.diff(self.offsets)
        full = np.flatnonzero(size > 0)
        b = full[np.abs(full[None, :] - b[:, None]).argmin(axis=1)]
        donor = self.offsets[b] + (rng.random(len(finals)) * size[b]).astype(np.int64)
        perm = np.argsort(rng.random((len(finals), self.n_seeds)), axis=1)
        return donor, perm

    def apply(self, mean: np.ndarray, donor: np.ndarray, perm: np.ndarray) -> np.ndarray:
        """Virtual per-seed curves (n, seeds, T): each smooth curve plus its donor's residuals, in 0-100."""
        resid = self.pool[np.asarray(donor)[:, None], np.asarray(perm)]  # (n, seeds, T)
        return np.clip(np.asarray(mean)[:, None, :] + resid, 0.0, 100.0)

    def per_epoch_std(self) -> np.ndarray:
        """The residuals' standard deviation at each epoch over every donor and seed (the measured spread)."""
        return self.pool.reshape(-1, self.pool.shape[2]).std(axis=0)

    def describe(self) -> dict[str, Any]:
        std = self.per_epoch_std()
        return {
            "donors": int(len(self.pool)),
            "seeds": self.n_seeds,
            "bins": int(len(self.edges) + 1),
            "std_first_epoch": round(float(std[0]), 3),
            "std_last_epoch": round(float(std[-1]), 3),
            "std_median": round(float(np.median(std)), 3),
        }
