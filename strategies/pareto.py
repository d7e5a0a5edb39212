"""Pareto fronts, 2-D hypervolume, non-dominated sorting and crowding distance.

Two conventions, each stated where it applies:

- ``pareto_front`` and ``hypervolume_2d`` take ``(accuracy, cost)`` pairs -- accuracy maximised, cost (params,
  latency, seconds) minimised -- because that is how results tables hold them and what the report asks about.
- ``non_dominated_sort`` and ``crowding_distance`` take an ``(n, m)`` matrix whose columns are all *minimised*
  (NSGA-II's convention, Deb et al. 2002); ``to_minimise`` flips maximised columns.

Everything is numpy; the O(n^2) pairwise dominance matrix is fine for the population sizes NAS uses (hundreds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surrogate.errors import NasscoutError


def _points_2d(points: np.ndarray, what: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise NasscoutError(
            f"{what}: points of shape {p.shape} are invalid; accepted: an (n, 2) array of (accuracy, cost)"
        )
    if np.isnan(p).any():
        bad = int(np.isnan(p).any(axis=1).sum())
        raise NasscoutError(f"{what}: {bad} point(s) have NaN accuracy or cost; drop them first")
    return p


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Mask of the non-dominated ``(accuracy, cost)`` pairs (maximise accuracy, minimise cost).

    A point is dominated when another is at least as accurate and at most as costly, and strictly better in one
    of the two. Identical points do not dominate each other, so all copies of a front point are kept.
    O(n log n): sort by cost, then compare each cost group with the best accuracy of all cheaper groups.
    """
    p = _points_2d(points, "pareto_front")
    n = len(p)
    if n == 0:
        return np.zeros(0, dtype=bool)
    acc, cost = p[:, 0], p[:, 1]
    order = np.lexsort((-acc, cost))  # cost ascending, then accuracy descending
    a, c = acc[order], cost[order]
    group_start = np.r_[True, c[1:] != c[:-1]]
    gid = np.cumsum(group_start) - 1
    group_best = a[group_start]  # first of each group = its most accurate
    # best accuracy over all strictly cheaper groups
    cheaper_best = np.r_[-np.inf, np.maximum.accumulate(group_best)[:-1]]
    keep_sorted = (a == group_best[gid]) & (a > cheaper_best[gid])
    mask = np.empty(n, dtype=bool)
    mask[order] = keep_sorted
    return mask


def hypervolume_2d(points: np.ndarray, ref: Sequence[float]) -> float:
    """Area dominated by ``(accuracy, cost)`` points and bounded by ``ref = (accuracy_ref, cost_ref)``.

    The region counted is every (a, c) with ``accuracy_ref <= a <= accuracy_i`` and ``cost_i <= c <= cost_ref``
    for some point i; points no better than the reference in both objectives add nothing. Units are
    accuracy x cost (e.g. percentage points x M params). Compare hypervolumes only under the same ``ref``.
    """
    p = _points_2d(points, "hypervolume_2d")
    r = np.asarray(ref, dtype=np.float64).reshape(-1)
    if r.shape != (2,) or np.isnan(r).any():
        raise NasscoutError(
            f"hypervolume_2d: reference {ref!r} is invalid; accepted: (accuracy_ref, cost_ref), two numbers"
        )
    p = p[(p[:, 0] > r[0]) & (p[:, 1] < r[1])]
    if len(p) == 0:
        return 0.0
    front = p[pareto_front(p)]
    front = front[
        np.lexsort((front[:, 0], front[:, 1]))
    ]  # cost ascending (accuracy ascends with it)
    _, first = np.unique(front[:, 1], return_index=True)  # copies of a point add no area
    front = front[first]
    widths = np.r_[front[1:, 1], r[1]] - front[:, 1]
    return float(np.sum(widths * (front[:, 0] - r[0])))


def to_minimise(values: np.ndarray, maximise: Sequence[bool]) -> np.ndarray:
    """An ``(n, m)`` objective matrix with the maximised columns negated, ready for the sorting below."""
    f = np.asarray(values, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    sign = np.where(np.asarray(maximise, dtype=bool), -1.0, 1.0)
    if sign.shape != (f.shape[1],):
        raise NasscoutError(
            f"to_minimise: {len(sign)} direction flags for {f.shape[1]} objectives; give one per column"
        )
    return f * sign


def _objectives(values: np.ndarray, what: str) -> np.ndarray:
    f = np.asarray(values, dtype=np.float64)
    if f.ndim != 2:
        raise NasscoutError(
            f"{what}: objectives of shape {f.shape} are invalid; accepted: an (n, m) array"
        )
    if np.isnan(f).any():
        raise NasscoutError(f"{what}: objectives contain NaN; drop those rows first")
    return f


def dominance_matrix(f: np.ndarray) -> np.ndarray:
    """``D[i, j]`` is True when row i dominates row j (all columns minimised)."""
    f = _objectives(f, "dominance_matrix")
    le = np.all(f[:, None, :] <= f[None, :, :], axis=2)
    lt = np.any(f[:, None, :] < f[None, :, :], axis=2)
    return le & lt


def non_dominated_sort(f: np.ndarray) -> np.ndarray:
    """Front rank of every row (0 = non-dominated), all columns minimised (Deb et al. 2002's fast sort)."""
    f = _objectives(f, "non_dominated_sort")
    n = len(f)
    rank = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return rank
    dom = dominance_matrix(f)
    count = dom.sum(axis=0)  # how many rows dominate each row
    current = np.flatnonzero(count == 0)
    r = 0
    while current.size:
        rank[current] = r
        count = count - dom[current].sum(axis=0)
        count[rank >= 0] = -1  # already ranked: never again
        current = np.flatnonzero(count == 0)
        r += 1
    return rank


def fronts(f: np.ndarray) -> list[np.ndarray]:
    """Row indices of each front, best first."""
    rank = non_dominated_sort(f)
    if rank.size == 0:
        return []
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]


def crowding_distance(f: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of the rows of one front: larger = lonelier = preferred.

    Per objective, the extreme rows get ``inf`` and the others the normalised gap between their neighbours;
    the distances are summed over objectives. An objective that is constant over the front adds nothing.
    """
    f = _objectives(f, "crowding_distance")
    n, m = f.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    order = np.argsort(f, axis=0, kind="stable")
    sorted_f = np.take_along_axis(f, order, axis=0)
    span = sorted_f[-1] - sorted_f[0]
    gaps = np.zeros_like(sorted_f)
    gaps[1:-1] = (sorted_f[2:] - sorted_f[:-2]) / np.where(span > 0, span, 1.0)
    gaps[0] = gaps[-1] = np.inf
    gaps[:, span == 0] = 0.0
    for j in range(m):
        dist[order[:, j]] += gaps[:, j]
    if np.all(span == 0):
        return np.full(n, np.inf)
    return dist
