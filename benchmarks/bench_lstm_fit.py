"""Fit time of the ``lstm`` predictor on 500 NB201 CIFAR-10 cells, one torch thread (the issue's 10 s budget).

Two fits per reading order: a process's first fit also builds the space's side-feature and isomorphism tables
and starts torch, so the second one is the steady-state figure. Run by hand:

    NASSCOUT_OFFLINE=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_lstm_fit.py
"""

from __future__ import annotations

import time

import numpy as np

from predictors.proxy_tables import cell_features
from predictors.registry import make_predictor
from surrogate.registry import load_benchmark


def main() -> None:
    bench = load_benchmark("nb201")
    cells = bench.space.all_indices
    q = bench.query(cells, dataset="cifar10")
    feats, _ = cell_features(
        "cifar10", proxies=("params", "flops", "zen")
    )  # what `predictors eval` gives
    train = np.random.default_rng(0).permutation(len(cells))[:500]
    for sequence in ("paths", "pairs"):
        for seed in range(2):
            model = make_predictor("lstm", cell_features=feats, sequence=sequence, seed=seed)
            t0, c0 = time.perf_counter(), time.process_time()
            model.fit(train, q.valid_acc[train])
            print(
                f"{sequence} seed {seed}: fit on 500 cells {time.perf_counter() - t0:.2f} s wall, "
                f"{time.process_time() - c0:.2f} s CPU",
                flush=True,
            )


if __name__ == "__main__":
    main()
