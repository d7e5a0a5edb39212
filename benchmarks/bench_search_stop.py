"""The stop rule of ``nasscout search`` (``strategies.search.screen.StopRule``) on our real 50-epoch curves.

    NASSCOUT_OFFLINE=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_search_stop.py \\
        [--table datasets/nb201-fmnist-long.h5] [--orders 100] [--rules fast,best/fit,last/fit] \\
        [--thresholds 0.05,0.01,0.001] [--checkpoints 0.25,0.5,0.75] [--min-completed 10]

Every cell's seed-mean ``valid_acc`` curve is trained in each of ``--orders`` seeded random orders, one at a
time as one worker trains them; at the search's checkpoint epochs the rule decides (and, ``NAME/fit``,
learns from every finished curve, as ``--early-stop-fit``). Printed per rule: the saving in epochs
(all trained to the end / what the rule trained), the regret of the final pick (best final of all minus
the best final among finished trainings; points) and how often the best cell finished. ``--calibrate-folds
2`` searches each half of the cells with the rule calibrated from the start on the other half's curves (as
``--early-stop-calibration`` does with an earlier study's store); figures are then per half.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time

os.environ.setdefault("NASSCOUT_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default="datasets/nb201-fmnist-long.h5")
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rules", default="fast,best/fit,last/fit")
    ap.add_argument("--thresholds", default="0.05,0.01,0.001")
    ap.add_argument("--checkpoints", default="0.25,0.5,0.75")
    ap.add_argument("--min-completed", type=int, default=None, help="default: the rule's own")
    ap.add_argument(
        "--calibrate-folds",
        type=int,
        default=0,
        help="k >= 2: split the cells in k folds; search each fold in turn, the rule calibrated from the "
        "start on the other folds' complete curves (--early-stop-calibration with an earlier study)",
    )
    ap.add_argument(
        "--observe",
        choices=("mean", "seed"),
        default="mean",
        help="the curve a training shows: its cell's seed-mean, or one seed's (drawn per order and "
        "cell), as a real search sees; regret is measured on the seed-mean finals either way",
    )
    args = ap.parse_args(argv)

    import numpy as np

    from strategies.pruning import CurveTable
    from strategies.pruning_sim import random_orders
    from strategies.search.screen import StopRule
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(args.table)
    ds = bench.datasets[0]
    table = CurveTable(bench, ds, max(bench.fidelities_for(ds)))
    ok = ~np.isnan(table.mean).any(axis=1)
    curves, per_seed = table.mean[ok], table.curves[ok]  # (n, T), (n, seeds, T)
    present = [np.flatnonzero(~np.isnan(c).any(axis=1)) for c in per_seed]
    n, T = curves.shape
    finals = curves[:, -1]
    checks = sorted({max(1, math.ceil(float(f) * T)) for f in args.checkpoints.split(",")} - {T})
    orders = random_orders(n, args.orders, args.seed)
    print(
        f"{bench.name}: {n} curves x {T} epochs, {args.orders} orders (seed {args.seed}), checkpoints "
        f"{checks}; best final {finals.max():.2f}"
    )
    print(f"{'rule':<28} {'epochs':>7} {'regret':>7} {'best':>6} {'stopped':>8} {'s/order':>8}")
    k = max(1, args.calibrate_folds)
    fold = np.random.default_rng(args.seed).permutation(n) % k  # each cell's fold
    rules = itertools.product(args.rules.split(","), map(float, args.thresholds.split(",")))
    for spec, thr in rules:
        name, _, fit = spec.partition("/")
        used, total, regret, kept, stopped = [], [], [], [], []
        t0 = time.perf_counter()
        for o, (order, f) in enumerate(itertools.product(orders, range(k))):
            mine = order[fold[order] == f]  # the fold searched, in this order
            seen = curves
            if args.observe == "seed":  # each training shows one of its cell's seeds
                pick = np.random.default_rng([args.seed, o]).random(n)
                cols = [p[int(u * len(p))] for p, u in zip(present, pick)]
                seen = per_seed[np.arange(n), cols]
            other = (
                per_seed[fold != f].reshape(-1, T) if args.observe == "seed" else curves[fold != f]
            )
            other = other[np.isfinite(other).all(axis=1)]
            rule = StopRule(
                "domhan", thr, T, seed=args.seed, extrapolator=name, fit=fit == "fit",
                min_completed=args.min_completed, calibration=other if k > 1 else None,
            )  # fmt: skip
            epochs, done = 0, []
            for i in mine:
                e = next(
                    (e for e in checks if rule.decide(list(seen[i, :e]))["stop"]), T
                )  # the first checkpoint where the rule stops it, else the end
                epochs += e
                if e == T:
                    rule.learn(list(seen[i]))
                    done.append(i)
            used.append(epochs)
            total.append(len(mine) * T)
            regret.append(finals[mine].max() - finals[done].max())
            kept.append(int(mine[np.argmax(finals[mine])]) in done)
            stopped.append(len(mine) - len(done))
        secs = (time.perf_counter() - t0) / len(used)
        print(
            f"{spec + f' p<{thr:g}':<28} {np.sum(total) / np.sum(used):6.2f}x {np.mean(regret):7.3f} "
            f"{100 * np.mean(kept):5.0f}% {np.mean(stopped):8.1f} {secs:8.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
