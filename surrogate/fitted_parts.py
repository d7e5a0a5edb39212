"""What a fitted surrogate learns from a table with numpy alone: the seed-to-seed noise and the training time.

Seed noise (:class:`SeedNoise`): how far one training run lands from the cell's mean depends on how good the
cell is (NB201: a 93% cell varies by ~0.2 points between seeds, a 60% cell by several), and cells of equal
mean differ in how noisy they are. So the residual *vectors* of training cells (each seed's value minus the
cell's seed-mean) are pooled by bins of the cell mean, and a cell's virtual seeds are its predicted mean plus
the residual vector of one donor from its bin, in a random seed order. This keeps the real distribution's
shape (the heavy tail of diverged runs, and the spread between cells) instead of assuming a normal, and it
keeps the table's meaning: the seed-mean of the virtual seeds is the surrogate's mean answer, as a table's
mean is the mean of its seeds. (Drawing each seed's residual independently from the pool was tried first:
it erases the between-cell spread, and the KS test of per-cell spreads rejected it, D = 0.10 on NB201.)
A table with one seed per cell has no spread to learn: its noise is zero, as in the table itself.

Training time (:class:`CostModel`): ridge regression of log seconds on the space's one-hot encoding. Time is
close to additive in the ops of a cell (each conv adds its FLOPs), so a linear model in log space fits it to
a few percent and stays positive for cells it never saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError

MAX_BINS = 10
CELLS_PER_BIN = 25


class BinnedPool:
    """Residual pools binned by a mean value (``edges``, ``pool``, ``offsets``), stored as three arrays."""

    edges: np.ndarray
    pool: np.ndarray
    offsets: np.ndarray

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}/edges": self.edges,
            f"{prefix}/pool": self.pool,
            f"{prefix}/offsets": self.offsets,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Any:
        return cls(arrays[f"{prefix}/edges"], arrays[f"{prefix}/pool"], arrays[f"{prefix}/offsets"])


class SeedNoise(BinnedPool):
    """Donor residual vectors by bins of the cell mean: ``edges`` (inner bin edges), ``pool`` (donors x
    seeds, bin by bin) and ``offsets`` (bin b holds ``pool[offsets[b]:offsets[b + 1]]``)."""

    def __init__(self, edges: np.ndarray, pool: np.ndarray, offsets: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.pool = np.asarray(pool, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if self.pool.ndim != 2 or not np.all(np.isfinite(self.pool)):
            raise NasscoutError("seed noise pool is not a finite (donors, seeds) table")
        if len(self.offsets) != len(self.edges) + 2 or self.offsets[-1] != len(self.pool):
            raise NasscoutError(
                "seed noise tables are inconsistent (bins, pool and offsets disagree)"
            )
        if np.any(np.diff(self.offsets) < 0) or self.offsets[0] != 0:
            raise NasscoutError("seed noise offsets are not ascending")

    @classmethod
    def fit(cls, values: np.ndarray) -> SeedNoise:
        """Learn from per-seed values of training cells, shape (cells, seeds), NaN where a seed is missing.

        Donors are the cells with every seed recorded."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise NasscoutError(f"seed values must be (cells, seeds), got shape {values.shape}")
        k = values.shape[1]
        keep = np.all(np.isfinite(values), axis=1)
        if k < 2 or not np.any(keep):  # one seed per cell: nothing to learn, answers are noise-free
            return cls(np.zeros(0), np.zeros((0, k)), np.zeros(2, dtype=np.int64))
        v = values[keep]
        mean = v.mean(axis=1)
        resid = v - mean[:, None]
        n_bins = int(np.clip(len(v) // CELLS_PER_BIN, 1, MAX_BINS))
        edges = np.unique(np.quantile(mean, np.linspace(0, 1, n_bins + 1)[1:-1]))
        cell_bin = np.searchsorted(edges, mean, side="right")
        order = np.argsort(cell_bin, kind="stable")
        counts = np.bincount(cell_bin, minlength=len(edges) + 1)
        return cls(edges, resid[order], np.concatenate([[0], np.cumsum(counts)]))

    @property
    def is_zero(self) -> bool:
        return len(self.pool) == 0

    def sample(self, means: np.ndarray, n_seeds: int, rng: np.random.Generator) -> np.ndarray:
        """(len(means), n_seeds) virtual per-seed values: each mean plus a donor's residuals, shuffled."""
        means = np.asarray(means, dtype=np.float64)
        if self.is_zero:
            return np.repeat(means[:, None], n_seeds, axis=1)
        if n_seeds != self.pool.shape[1]:
            raise NasscoutError(
                f"seed noise was learned for {self.pool.shape[1]} seeds, not {n_seeds}"
            )
        b = np.searchsorted(self.edges, means, side="right")
        size = np.diff(self.offsets)
        full = np.flatnonzero(
            size > 0
        )  # an empty bin (equal quantiles) borrows its nearest full one
        b = full[np.abs(full[None, :] - b[:, None]).argmin(axis=1)]
        donor = self.offsets[b] + (rng.random(len(means)) * size[b]).astype(np.int64)
        cols = np.argsort(rng.random((len(means), n_seeds)), axis=1)
        return means[:, None] + self.pool[donor[:, None], cols]

    def describe(self) -> dict[str, Any]:
        """Per bin: the upper mean edge and the one-seed residual std (for the file header and the README)."""
        if self.is_zero:
            return {"bins": 0, "note": "one seed per cell in the data: noise-free"}
        std = [
            float(np.std(self.pool[a:b])) if b > a else None
            for a, b in zip(self.offsets[:-1], self.offsets[1:])
        ]
        return {"bins": len(std), "upper_edges": self.edges.round(3).tolist(), "std": std}


class CostModel:
    """Training seconds as ``exp(onehot @ coef + intercept)`` (ridge fit in log space); with ``log=False``
    a plain linear model, exact for quantities additive in ops such as parameters and FLOPs."""

    def __init__(self, coef: np.ndarray, intercept: float, log: bool = True) -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.log = log

    @staticmethod
    def features(space: Any, cells: np.ndarray) -> np.ndarray:
        return space.encode(cells, "onehot").reshape(len(cells), -1).astype(np.float64)

    @classmethod
    def fit(
        cls, space: Any, cells: np.ndarray, values: np.ndarray, ridge: float = 1.0, log: bool = True
    ) -> CostModel:
        """Fit on the cells with a finite (in log space also positive) value; none gives NaN answers."""
        values = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(values) & (values > 0 if log else True)
        X0 = cls.features(space, np.asarray(cells)[:1])
        if not np.any(ok):
            return cls(np.zeros(X0.shape[1]), np.nan, log)
        X = cls.features(space, np.asarray(cells)[ok])
        y = np.log(values[ok]) if log else values[ok]
        mu = X.mean(axis=0)
        Xc = X - mu
        coef = np.linalg.solve(Xc.T @ Xc + ridge * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
        return cls(coef, float(y.mean() - mu @ coef), log)

    def predict(self, space: Any, cells: np.ndarray) -> np.ndarray:
        z = self.features(space, cells) @ self.coef + self.intercept
        return np.exp(z) if self.log else z
