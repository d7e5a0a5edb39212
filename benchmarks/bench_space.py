"""Timings of every search space's tables: cell ops, isomorphism classes, encodings (and NB201's cost model).

Run ``.venv/bin/python benchmarks/bench_space.py`` with the package installed (``make install``). The first
call of each kind builds the table, shared by every instance of the space; later calls are a numpy gather,
which is what strategies and predictors pay in their loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from surrogate import costmodel
from surrogate.spaces import SPACES


def per_call(fn: Callable[[], object], repeat: int = 20) -> float:
    """Best of ``repeat`` calls, in milliseconds (best-of filters scheduler noise)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def first_call(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def row(what: str, fn: Callable[[], object]) -> None:
    print(f"{what:<52}{first_call(fn):>10.1f}ms{per_call(fn):>10.3f}ms")


def main() -> None:
    print(f"{'what':<52}{'first call':>12}{'per call':>12}")
    rng = np.random.default_rng(0)
    for name, cls in SPACES.items():
        space = cls()
        row(f"{name}: cell_ops table", lambda space=space: space.cell_ops)
        n = space.n_cells
        cells = space.all_indices
        row(f"{name}: raw_index table", lambda space=space: space.raw_index)
        row(f"{name}: isomorphism classes (n_classes)", lambda space=space: space.n_classes)
        row(f"{name}: canonical_indices({n:,})", lambda s=space, c=cells: s.canonical_indices(c))
        for kind in space.encodings:
            row(f"{name}: encode({n:,}, {kind!r})", lambda s=space, c=cells, k=kind: s.encode(c, k))
        row(f"{name}: indices_from_ops({n:,})", lambda s=space: s.indices_from_ops(s.cell_ops))
        row(
            f"{name}: 1,000 mutate_index",
            lambda s=space: [s.mutate_index(i, rng) for i in range(1000)],
        )
        row(
            f"{name}: 1,000 neighbour_indices",
            lambda s=space: [s.neighbour_indices(i) for i in range(1000)],
        )
        row(
            f"{name}: 1,000 format + parse",
            lambda s=space: [s.parse(s.format(i)) for i in range(1000)],
        )
        print(f"{name}: {n:,} cells, {space.n_classes:,} isomorphism classes")
    cells = SPACES["nb201"]().all_indices
    row(f"nb201 params_m({len(cells):,} cells)", lambda: costmodel.params_m(cells))
    row(f"nb201 flops_m({len(cells):,} cells)", lambda: costmodel.flops_m(cells))


if __name__ == "__main__":
    main()
