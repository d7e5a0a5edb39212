"""Real parallel training inside a search: wall time of N cells with 1 worker vs 2 (local process pool).

    .venv/bin/python benchmarks/bench_backends.py [--cells 6] [--epochs 20] [--workers 1,2]

Each configuration searches with random search (seed 0, so the same cells) on a fresh run store with the
`cpu-mini` Fashion-MNIST recipe; one cell (#6111) is trained into each store first so that regret has a
reference, and is not counted. Prints wall seconds, the sum of the runs' own training seconds, and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NASSCOUT_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()

    from strategies.backends import PoolBackend
    from strategies.runner import Runner
    from surrogate.registry import load_benchmark
    from surrogate.training.benchmark import TrainingBenchmark
    from surrogate.training.presets import get_preset

    preset = get_preset("cpu-mini", epochs=args.epochs)
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in [int(x) for x in args.workers.split(",")]:
            store = Path(tmp) / f"w{w}.h5"
            TrainingBenchmark("fashion-mnist", preset, store=store).query(
                [6111], dataset="fashion-mnist"
            )
            spec = f"train:fashion-mnist::{store}"
            pool = PoolBackend(w)
            t0 = time.perf_counter()
            try:
                traj = Runner(
                    load_benchmark(spec),
                    dataset="fashion-mnist",
                    seed=0,
                    n_workers=w,
                    budget_queries=args.cells,
                    backend=pool,
                    spec=spec,
                ).run("rs")
            finally:
                pool.close()
            wall = time.perf_counter() - t0
            walls[w] = wall
            train = float(traj.column("train_time_s").sum())
            print(
                f"workers={w}: {len(traj)} cells x {args.epochs} epochs in {wall:7.1f} s wall "
                f"(sum of the runs' training seconds {train:7.1f}); cells {traj.column('index').tolist()}"
            )
    if 1 in walls:
        for w, wall in walls.items():
            if w != 1:
                print(f"speed-up of {w} workers over 1: {walls[1] / wall:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
