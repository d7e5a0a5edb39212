"""Speed of the model-based strategies: time per ask/tell step at 200 observations, and per 200-query run.

Per step: a strategy is driven sequentially to 200 observations (noisy NB201 CIFAR-10 values), then the next
``--steps`` ask/tell steps are timed one by one. Refits happen every ``batch_size`` proposals, so the mean
step time is the amortised cost (the figure the issue's "< 50 ms per step" is about) and the max is one
refit-and-rank step. Per run: wall time of a whole 200-query search through the runner, averaged over seeds.

    .venv/bin/python benchmarks/bench_model_strategies.py [--strategies bo-gp,bo-xgb,bananas,pnas]
        [--steps 40] [--seeds 3] [--dataset cifar10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from strategies.base import Observation
from strategies.registry import get_strategy, strategy_names
from strategies.runner import Runner
from surrogate.registry import load_benchmark

MODEL_BASED = ("bo-gp", "bo-xgb", "bananas", "pnas")


def step_times(name: str, bench, dataset: str, *, warm: int, steps: int, seed: int) -> np.ndarray:
    strategy = get_strategy(name)(bench.space, seed=seed)
    rng = np.random.default_rng(seed)

    def step() -> None:
        trial = strategy.ask()
        acc = bench.query(np.array([trial.index]), dataset=dataset, seed=rng).valid_acc[0]
        strategy.tell(trial, Observation(valid_acc=float(acc), fidelity=200, cost_s=0.0))

    for _ in range(warm):
        step()
    out = np.empty(steps)
    for i in range(steps):
        t = time.perf_counter()
        step()
        out[i] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", default=",".join(MODEL_BASED))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dataset", default="cifar10")
    args = ap.parse_args()
    names = [n for n in args.strategies.split(",") if n in strategy_names()]
    missing = sorted(set(args.strategies.split(",")) - set(names))
    if missing:
        print(f"not registered (skipped): {', '.join(missing)}")
    bench = load_benchmark("nb201")
    print(
        f"{'strategy':10} {'ms/step mean':>12} {'median':>8} {'max':>8} {'s/run':>7}  (NB201 {args.dataset})"
    )
    for name in names:
        st = step_times(name, bench, args.dataset, warm=200, steps=args.steps, seed=0) * 1e3
        t = time.perf_counter()
        for seed in range(args.seeds):
            Runner(bench, dataset=args.dataset, seed=seed, budget_queries=args.queries).run(name)
        per_run = (time.perf_counter() - t) / args.seeds
        print(
            f"{name:10} {st.mean():12.1f} {np.median(st):8.2f} {st.max():8.1f} {per_run:7.2f}"
            f"  ({args.steps} steps after 200 observations; {args.seeds} runs x {args.queries} queries)"
        )


if __name__ == "__main__":
    main()
