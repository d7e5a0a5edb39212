"""What the evaluation protocol draws from: the cells, their targets, the free features, and their checks.

Cells and targets come from a benchmark (its validation metric at the longest fidelity, seed mean) or are
given (e.g. from a file, on any ``SearchSpace``); the free features are the proxies that benchmark has.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from predictors.features import default_space
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

# ---- checks -------------------------------------------------------------------------------------------


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NasscoutError(f"{name} {value!r} is invalid; accepted: a positive integer")
    return int(value)


def check_targets(y: np.ndarray, what: str = "targets") -> np.ndarray:
    """Targets a predictor can be evaluated or fitted on: non-empty, finite, not all equal."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) == 0:
        raise NasscoutError(f"{what} are empty; accepted: at least 2 cells with accuracies")
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise NasscoutError(
            f"{what} contain {len(bad)} NaN/inf values (first at position {bad[0]}); all must be finite"
        )
    if np.all(y == y[0]):
        raise NasscoutError(
            f"{what} are constant (all {y[0]:g}); ranking metrics need at least two different values"
        )
    return y


def check_split(train: np.ndarray, test: np.ndarray) -> None:
    """Train and test must be disjoint sets of distinct cells."""
    for name, cells in (("train", train), ("test", test)):
        uniq, counts = np.unique(cells, return_counts=True)
        if np.any(counts > 1):
            raise NasscoutError(
                f"cell {int(uniq[counts > 1][0])} appears twice in the {name} set; cells must be distinct"
            )
    both = np.intersect1d(train, test)
    if len(both):
        raise NasscoutError(
            f"train and test overlap in {len(both)} cells (e.g. {int(both[0])}); they must be disjoint"
        )


def pool_space(spec: Any) -> SearchSpace:
    """The space of the evaluated cells: the given one, else the benchmark's (NB201 without opening it)."""
    from surrogate.registry import load_benchmark

    if spec.space is not None:
        return spec.space
    return default_space() if spec.benchmark == "nb201" else load_benchmark(spec.benchmark).space


def target_pool(spec: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(cells, targets, provenance) the splits are drawn from; cells without a target are left out."""
    from surrogate.registry import load_benchmark

    space = pool_space(spec)
    if spec.cells is not None and spec.targets is not None:
        cells = space.indices(np.asarray(spec.cells, dtype=np.int64))
        y = check_targets(spec.targets)
        if len(cells) != len(y):
            raise NasscoutError(f"got {len(cells)} cells but {len(y)} targets; they must match")
        check_split(cells, np.empty(0, dtype=np.int64))
        return cells, y, {"source": "cells file", "target": "given"}
    bench = load_benchmark(spec.benchmark)
    dataset = bench.dataset(spec.dataset)
    cells = bench.cells if spec.cells is None else space.indices(np.asarray(spec.cells))
    if spec.cells is not None:
        check_split(cells, np.empty(0, dtype=np.int64))
    rec = bench.query(cells, dataset=dataset, seed="mean")
    y = rec.valid_acc
    known = np.isfinite(y)
    if spec.cells is not None and not known.all():
        missing = int(cells[~known][0])
        raise NasscoutError(
            f"{int((~known).sum())} given cells have NaN targets in {bench.name} (e.g. cell {missing}); "
            "all must be known"
        )
    cells, y = cells[known], y[known]
    if len(y) == 0:
        raise NasscoutError(
            f"benchmark {bench.name!r} has no {dataset} accuracies; targets are empty"
        )
    check_targets(y, f"{dataset} targets of {bench.name}")
    prov = {
        "source": str(bench.path),
        "benchmark": bench.name,
        "dataset": dataset,
        "target": f"valid_acc@{rec.fidelity}",
        "target_seed": "mean",
        "fidelity": int(rec.fidelity),
    }
    return cells, y, prov


def feature_source(benchmark: str, space: SearchSpace, dataset: str) -> tuple[str, tuple[str, ...]]:
    """(benchmark the free features are read from, the proxies it has for ``dataset``).

    Any NB201-space benchmark (a NATS import, a .h5 file of NB201 cells) reads them from ``nb201``, which
    holds them for the NB201 datasets (none for e.g. our own Fashion-MNIST trainings); other spaces from
    their own benchmark.
    """
    from predictors.zerocost import applicable_proxies, dataset_name
    from surrogate.registry import load_benchmark

    try:
        if space.name == "nb201":
            return "nb201", applicable_proxies("nb201", dataset_name(dataset))
        if load_benchmark(benchmark).space.name != space.name:  # cells of another space
            return benchmark, ()
        return benchmark, applicable_proxies(benchmark, dataset)
    except NasscoutError:  # no such dataset or benchmark (e.g. cells of a space given with targets)
        return benchmark, ()
