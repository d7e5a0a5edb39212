"""Timings of the cell-space tables: isomorphism, encodings and cost model over all 15,625 cells.

Run ``.venv/bin/python benchmarks/bench_space.py`` with the package installed (``make install``). The first
call of each kind builds its cached table; later calls are a numpy gather, which is what strategies and
predictors pay in their loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from surrogate import costmodel, encodings, isomorphism
from surrogate.space import NB201Space


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


def main() -> None:
    cells = NB201Space().all_indices
    n = len(cells)
    print(f"{'what':<44}{'first call':>12}{'per call':>12}")

    def row(what: str, fn: Callable[[], object]) -> None:
        print(f"{what:<44}{first_call(fn):>10.1f}ms{per_call(fn):>10.2f}ms")

    row("isomorphism table (n_classes)", isomorphism.n_classes)
    row(f"canonical_codes({n:,} cells)", lambda: isomorphism.canonical_codes(cells))
    for kind in encodings.ENCODINGS:
        row(f"encode({n:,} cells, {kind!r})", lambda kind=kind: encodings.encode(cells, kind))
    row(f"params_m({n:,} cells)", lambda: costmodel.params_m(cells))
    row(f"flops_m({n:,} cells)", lambda: costmodel.flops_m(cells))
    row(f"flops_m({n:,} cells, counter='macs')", lambda: costmodel.flops_m(cells, counter="macs"))
    print(f"isomorphism classes: {isomorphism.n_classes():,}")


if __name__ == "__main__":
    main()
