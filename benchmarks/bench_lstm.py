"""Ablations of the PNAS LSTM predictor: Kendall tau per variant x train size, NASLib's protocol.

Each variant is the default ``lstm`` with some options replaced; every variant sees the same splits (those of
``nasscout predictors eval`` for the given seeds), so differences are paired. Develop on seeds that the
reported figures do not use (``--first-seed 100``). Run by hand, e.g.:

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_lstm.py --dataset cifar10 --seeds 3 --first-seed 100 \
        --sizes 10,56,209 --variant base='{}' --variant mse='{"rank_weight": 0}'

Prints one line per variant x size: tau mean (and std over seeds), paired difference to the first variant
(and its standard error over seeds), coverage90, fit seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from predictors.evaluation import DEFAULT_FEATURES, EvalSpec, evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--sizes", default="10,23,56,135,209,500")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--features", default=",".join(DEFAULT_FEATURES), help="'' for none")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a variant: name and JSON options of lstm (repeatable; the first is the reference)",
    )
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in (args.variant or ["default={}"])]
    sizes = tuple(int(s) for s in args.sizes.split(","))
    features = tuple(f for f in args.features.split(",") if f)
    ref: dict[int, np.ndarray] = {}
    for name, opts in variants:
        t0 = time.perf_counter()
        spec = EvalSpec(
            predictors=("lstm",),
            train_sizes=sizes,
            seeds=args.seeds,
            first_seed=args.first_seed,
            dataset=args.dataset,
            features=features,
            options={"lstm": json.loads(opts)},
        )
        rows = evaluate(spec).rows
        for n in sizes:
            part = [r for r in rows if r["train_size"] == n]
            tau = np.array([r["kendalltau"] for r in part])
            ref.setdefault(n, tau)
            print(
                f"{name:18s} n={n:<4d} tau {tau.mean():.3f} +- {tau.std():.3f}  "
                f"diff {np.mean(tau - ref[n]):+.3f} (se {np.std(tau - ref[n]) / np.sqrt(len(tau)):.3f})  "
                f"cov90 {np.mean([r['coverage90'] for r in part]):.2f}  "
                f"fit {np.mean([r['fit_time_s'] for r in part]):6.2f}s",
                flush=True,
            )
        print(f"# {name}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
