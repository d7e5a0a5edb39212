"""Speed of the tabular benchmarks (nb201, transnas-micro, nasbench-graph): build, open, vectorised and single
queries, CLI end to end, memory.

    .venv/bin/python benchmarks/bench_tabular.py [NAME ...]
Targets (foundation issue): open <= 0.5 s; CLI query <= 1.5 s; all cells of a space <= 10 ms; one cell
<= 20 us; memory of an open benchmark <= 200 MB.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc
from pathlib import Path

import numpy as np


def best_of(fn, number: int, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def bench_one(name: str) -> None:
    from surrogate.registry import builder, load_benchmark
    from surrogate.sources import benchmark_cache
    from surrogate.tabular import TabularBenchmark

    print(f"== {name}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        built = builder(name)(Path(tmp) / f"{name}.h5", log=lambda msg: None)
        t_build = time.perf_counter() - t0
        size = built.stat().st_size / 1e6
    print(f"build from sources           {t_build:8.2f} s    ({size:.1f} MB file)")
    load_benchmark(name)  # make sure the cache exists
    path = benchmark_cache(name)
    t_open = best_of(lambda: TabularBenchmark.open(path), 1, repeat=5)
    tracemalloc.start()
    bench = TabularBenchmark.open(path)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"open cached benchmark        {t_open * 1e3:8.1f} ms")
    print(
        f"memory of an open benchmark  {kept / 1e6:8.1f} MB   (peak while opening {peak / 1e6:.1f} MB)"
    )
    ds = bench.datasets[0]
    cells = bench.cells_for(ds)
    n = len(cells)
    t_all = best_of(lambda: bench.query(cells, dataset=ds), 50)
    print(f"query all {n:,} cells ({ds}) {t_all * 1e3:8.3f} ms   ({n / t_all / 1e6:.1f} M cells/s)")
    rng = np.random.default_rng(0)
    t_draw = best_of(lambda: bench.query(cells, dataset=ds, seed=rng), 50)
    print(f"  ... with a seed draw each  {t_draw * 1e3:8.3f} ms")
    one = cells[len(cells) // 2 : len(cells) // 2 + 1]
    t_one = best_of(lambda: bench.query(one, dataset=ds), 20000)
    print(f"query one cell (index array) {t_one * 1e6:8.2f} us")
    arch = bench.space.format(int(one[0]))
    t_str = best_of(lambda: bench.query([arch], dataset=ds), 20000)
    print(f"query one cell (arch string) {t_str * 1e6:8.2f} us")
    cmd = [sys.executable, "-m", "strategies.cli.main", "bench", "query", name]
    cmd += ["--dataset", ds, "--arch", arch, "--json"]
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    print(
        f"`nasscout bench query` e2e   {min(runs) * 1e3:8.1f} ms   (best of 5, python start included)"
    )


def main() -> None:
    names = sys.argv[1:] or ["nb201", "transnas-micro", "nasbench-graph"]
    for name in names:
        bench_one(name)
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
    print(f"heavy modules on the query path  {heavy}")


if __name__ == "__main__":
    main()
