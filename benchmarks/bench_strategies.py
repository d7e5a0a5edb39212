"""Time per ask/tell step of every registered strategy at 200 observations (NB201 CIFAR-10, 1 worker).

A strategy is first driven to 200 observations through the Runner, then the next ``--steps`` steps are timed
one by one (ask + table lookup + tell; the lookup costs ~2 us, so this is the strategy's own cost). The issue's
target: model-based strategies under 50 ms per step. Also prints the mean step time over the first 200.

    .venv/bin/python benchmarks/bench_strategies.py [--strategies rea,bo-gp] [--seeds 2] [--steps 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strategies.registry import parse_strategy_list  # noqa: E402
from strategies.runner import Runner  # noqa: E402
from surrogate.registry import load_benchmark  # noqa: E402


def step_times(bench, name: str, seed: int, warm: int, steps: int) -> np.ndarray:
    stamps: list[float] = []
    runner = Runner(bench, dataset="cifar10", seed=seed, budget_queries=warm + steps)
    t0 = time.perf_counter()
    runner.run(name, on_row=lambda: stamps.append(time.perf_counter()))
    return np.diff(np.r_[t0, stamps])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", default="all")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--warm", type=int, default=200, help="observations before timing")
    ap.add_argument("--steps", type=int, default=20, help="timed steps after --warm")
    args = ap.parse_args()
    bench = load_benchmark("nb201")
    print(
        f"{'strategy':<10} {'ms/step @' + str(args.warm):>14} {'p90 ms':>8} {'ms/step 1..' + str(args.warm):>16}"
    )
    for name in parse_strategy_list(args.strategies):
        at, early = [], []
        for seed in range(args.seeds):
            dt = step_times(bench, name, seed, args.warm, args.steps)
            early.append(dt[: args.warm])
            at.append(dt[args.warm :])
        at_ms, early_ms = np.concatenate(at) * 1e3, np.concatenate(early) * 1e3
        print(
            f"{name:<10} {at_ms.mean():>14.3f} {np.percentile(at_ms, 90):>8.3f} {early_ms.mean():>16.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
