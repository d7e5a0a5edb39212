"""Early stopping measured as in LC-PFN's paper: real curves trained in random orders, stopped or continued.

    nice -n 10 .venv/bin/python benchmarks/bench_early_stop.py \\
        [--table datasets/nb201-fmnist-mini.h5] [--orders 100] [--seed 0] \\
        [--extrapolators fast,last] [--thresholds 0.05,0.01] [--min-epochs 2,5,10] \\
        [--fit-folds 2] [--json]

Every cell of the table (its seed-mean ``valid_acc`` curve over the single schedule) is trained in each of
``--orders`` seeded random orders; each training is checked at every epoch from ``--min-epochs`` (default:
25% of the schedule, at least 2) and stopped by the rule or trained to the end. Printed per rule: the saving
factor in epochs and in seconds (everything trained to the end / what the rule used), the regret of the
final pick (best final of all minus the best final among completed trainings; points), how often the best
cell was kept, and the mean number of trainings stopped. ``none`` is the reference (regret 0 by
construction, so the regret of a rule is its extra regret). ``--fit-folds 2`` adds each extrapolator
calibrated on the complete curves of the other half of the cells (``NAME/fit2``): what fitting on earlier
trainings gives. ``--search-seeds N`` measures the in-search pruner itself: random search over every cell
through the Runner (one order per seed), with the extrapolator as it comes (``NAME (search)``) and fitted on
the trainings completed so far (``NAME/fit (search)``, ``--early-stop-fit``); ``--search-min-completed 3,10``
compares warm-ups (completed trainings before any stop: ``NAME/fit (search, 10 done)``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

os.environ.setdefault("NASSCOUT_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default="datasets/nb201-fmnist-mini.h5")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extrapolators", default="fast")
    ap.add_argument("--thresholds", default="0.05")
    ap.add_argument("--min-epochs", default="", help="first checkpoints to compare, e.g. 2,5,10")
    ap.add_argument("--median-min-completed", type=int, default=None)
    ap.add_argument(
        "--fit-folds",
        type=int,
        default=0,
        help="also fit each extrapolator on the complete curves of the other folds (k-fold over cells)",
    )
    ap.add_argument(
        "--search-seeds",
        type=int,
        default=0,
        help="also run the in-search pruner: random search over every cell, this many seeds, through the "
        "Runner (--early-stop as `nasscout run` does it), with and without --early-stop-fit",
    )
    ap.add_argument("--search-extrapolators", default="best,last")
    ap.add_argument(
        "--search-min-completed",
        default="",
        help="in-search: completed trainings before any stop, e.g. 3,10,25 (default: the pruner's own)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np

    from predictors.curves import make_extrapolator
    from strategies.pruning import CurveTable, make_early_stop
    from strategies.pruning_sim import domhan_table, random_orders, simulate
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(args.table)
    ds = bench.dataset(args.dataset or bench.datasets[0])
    top = max(bench.fidelities_for(ds))
    table = CurveTable(bench, ds, top)
    curves = table.mean
    keep = ~np.isnan(curves).any(axis=1)
    curves, frac = curves[keep], table.cost_fraction[keep]
    cost = bench.cost(table.cells[keep], dataset=ds, fidelity=top)
    n, T = curves.shape
    orders = random_orders(n, args.orders, args.seed)
    out = []

    def report(res, **extra) -> None:
        s = res.summary() | extra
        out.append(s)
        if not args.json:
            name = s["rule"] + (
                f" {s['extrapolator']} p<{s['threshold']:g}" if "extrapolator" in s else ""
            )
            name += f" k>={s['min_epochs']}" if "min_epochs" in s else ""
            print(
                f"{name:<30} {s['epoch_saving']:6.2f}x {s['time_saving']:6.2f}x {s['regret_mean']:7.3f} "
                f"{s['regret_p90']:7.3f} {100 * s['found_best']:6.0f}% {s['stopped_mean']:8.1f} "
                f"{s['predict_s']:8.2f}"
            )

    if not args.json:
        print(
            f"{bench.name}: {n} curves x {T} epochs, {args.orders} random orders (seed {args.seed}); "
            f"best final {curves[:, -1].max():.2f}"
        )
        print(
            f"{'rule':<30} {'epochs':>7} {'time':>7} {'regret':>7} {'reg.p90':>7} {'best':>7} "
            f"{'stopped':>8} {'pred. s':>8}"
        )
    report(simulate(make_early_stop("none"), curves, cost, frac, orders))
    firsts = [int(x) for x in args.min_epochs.split(",") if x] or [None]
    for first in firsts:
        med = make_early_stop("median", min_epochs=first, min_completed=args.median_min_completed)
        report(simulate(med, curves, cost, frac, orders), min_epochs=med.first_checkpoint(T))
    # P over every checkpoint from epoch 2, computed once per extrapolator (it depends on neither the
    # threshold nor the first checkpoint: a later first checkpoint uses its tail)
    checkpoints = np.arange(2, T)
    for name in [e for e in args.extrapolators.split(",") if e]:
        for folds in [0] + ([args.fit_folds] if args.fit_folds >= 2 else []):
            ext = make_extrapolator(name, seed=args.seed)
            P, seconds = domhan_table(curves, checkpoints, ext, table.bounds, folds=folds)
            label = name + (f"/fit{folds}" if folds else "")
            for first in firsts:
                for thr in [float(x) for x in args.thresholds.split(",")]:
                    cfg = make_early_stop(
                        "domhan", threshold=thr, extrapolator=name, min_epochs=first
                    )
                    k0 = cfg.first_checkpoint(T)
                    res = simulate(cfg, curves, cost, frac, orders, P=P[:, k0 - 2 :])
                    res.predict_s = seconds
                    report(res, extrapolator=label, threshold=thr, min_epochs=k0)
    if args.search_seeds:
        from strategies.pruning_sim import SimResult
        from strategies.runner import Runner

        def search(cfg) -> SimResult:  # the in-search pruner, one random order per seed
            ep, secs, reg, stopped = [], [], [], []
            for seed in range(args.search_seeds):
                runner = Runner(bench, dataset=ds, seed=seed, budget_queries=n, early_stop=cfg)
                rows = runner.run("rs").rows
                at = np.array([r.stopped_at for r in rows])
                ep.append(np.where(at > 0, at, T).sum())
                secs.append(sum(r.cost_s for r in rows))
                reg.append(curves[:, -1].max() - max(r.true_acc for r in rows if not r.stopped))
                stopped.append((at > 0).sum())
            return SimResult(
                cfg.rule, *map(np.array, (ep, secs, reg, stopped)), n * T, float(np.sum(cost))
            )

        warmups = [int(x) for x in args.search_min_completed.split(",") if x] or [None]
        for name in [e for e in args.search_extrapolators.split(",") if e]:
            for fit, warm, first, thr in itertools.product(
                (False, True), warmups, firsts, [float(x) for x in args.thresholds.split(",")]
            ):
                cfg = make_early_stop(
                    "domhan", threshold=thr, extrapolator=name, min_epochs=first, fit=fit,
                    min_completed=warm,
                )  # fmt: skip
                label = f"{name}{'/fit' if fit else ''} (search"
                label += ")" if warm is None else f", {cfg.n_completed()} done)"
                k0 = cfg.first_checkpoint(T)
                report(search(cfg), extrapolator=label, threshold=thr, min_epochs=k0)
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
