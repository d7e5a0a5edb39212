"""Speed of the NB201 tabular benchmark: open, vectorised and single queries, CLI end to end, memory.

    .venv/bin/python benchmarks/bench_tabular.py
Targets (foundation issue): open <= 0.5 s; CLI query <= 1.5 s; all 15,625 cells <= 10 ms; one cell <= 20 us;
memory of an open benchmark <= 200 MB.
"""

from __future__ import annotations

import subprocess
import sys
import time
import timeit
import tracemalloc

import numpy as np


def best_of(fn, number: int, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    from surrogate.registry import open_nb201
    from surrogate.sources import benchmark_cache
    from surrogate.tabular import TabularBenchmark

    open_nb201()  # make sure the cache exists
    path = benchmark_cache("nb201")
    t_open = best_of(lambda: TabularBenchmark.open(path), 1, repeat=5)
    tracemalloc.start()
    bench = TabularBenchmark.open(path)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = path.stat().st_size / 1e6
    print(f"open cached benchmark        {t_open * 1e3:8.1f} ms   ({size:.1f} MB file)")
    print(
        f"memory of an open benchmark  {kept / 1e6:8.1f} MB   (peak while opening {peak / 1e6:.1f} MB)"
    )

    cells = np.arange(15625)
    t_all = best_of(lambda: bench.query(cells, dataset="cifar10"), 50)
    print(
        f"query all 15,625 cells       {t_all * 1e3:8.3f} ms   ({15625 / t_all / 1e6:.1f} M cells/s)"
    )
    rng = np.random.default_rng(0)
    t_draw = best_of(lambda: bench.query(cells, dataset="cifar10", seed=rng), 50)
    print(
        f"  ... with a seed draw each  {t_draw * 1e3:8.3f} ms   ({15625 / t_draw / 1e6:.1f} M cells/s)"
    )
    one = np.array([6111])
    t_one = best_of(lambda: bench.query(one, dataset="cifar10"), 20000)
    print(f"query one cell (index array) {t_one * 1e6:8.2f} us")
    arch = bench.space.format(6111)
    t_str = best_of(lambda: bench.query([arch], dataset="cifar10"), 20000)
    print(f"query one cell (arch string) {t_str * 1e6:8.2f} us")
    t_cost = best_of(lambda: bench.cost(one, dataset="cifar10"), 20000)
    print(f"cost of one cell             {t_cost * 1e6:8.2f} us")

    cmd = [
        sys.executable,
        "-m",
        "strategies.cli.main",
        "bench",
        "query",
        "nb201",
        "--dataset",
        "cifar10",
        "--arch",
        arch,
        "--json",
    ]
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    print(
        f"`nasscout bench query` e2e   {min(runs) * 1e3:8.1f} ms   (best of 5, python start included)"
    )
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, strategies.cli.bench, surrogate.registry; "
            "print([m for m in ('torch', 'xgboost', 'pandas') if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"heavy modules on that path   {heavy}")


if __name__ == "__main__":
    main()
