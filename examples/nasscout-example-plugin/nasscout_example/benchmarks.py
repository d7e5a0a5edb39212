"""A benchmark made from your own table: NB201 without the `none` op, built once with nasscout's table
importer (the same path as `nasscout data import table`) and cached."""

from __future__ import annotations

import numpy as np


def nb201_without_none():
    """The NB201 cifar10 cells that use no `none` op (their per-seed 200-epoch values), as a benchmark."""
    import pandas as pd

    from surrogate.import_table import import_table
    from surrogate.registry import load_benchmark
    from surrogate.sources import benchmark_cache
    from surrogate.tabular import TabularBenchmark

    path = benchmark_cache("example-nb201-no-none")
    if not path.exists():
        nb = load_benchmark("nb201")
        cells = nb.cells_for("cifar10")
        none = np.array([list(c).index("none") for c in nb.space.choices])
        keep = cells[np.all(nb.space.cell_ops[cells] != none, axis=1)]
        seeds = nb.seeds("cifar10", 200)
        rows = []
        for s in seeds:
            r = nb.query(keep, dataset="cifar10", fidelity=200, seed=s)
            rows.append(
                pd.DataFrame(
                    {
                        "arch": keep,
                        "seed": s,
                        "valid_acc": r.valid_acc,
                        "train_time_s": r.train_time_s,
                    }
                )
            )
        table = pd.concat(rows).dropna(subset=["valid_acc"])
        import_table(
            table, space="nb201", dataset="cifar10", out=path, epochs=200, name="nb201-no-none"
        )
    return TabularBenchmark.open(path)
