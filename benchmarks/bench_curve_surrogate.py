"""Curve surrogates of our Fashion-MNIST training runs, measured on held-out runs: SVD against a power law.

    nice -n 10 .venv/bin/python benchmarks/bench_curve_surrogate.py \\
        [--tables datasets/nb201-fmnist-mini.h5,datasets/nb201-fmnist-long.h5] \\
        [--configs svd:3,svd:5,svd:8,param] [--fraction 0.8] [--splits 3] [--orders 100] [--json]

Per table and configuration, ``--splits`` seeded splits (train ``--fraction`` of the cells, hold out the rest);
each split fits a curve surrogate with the defaults of ``nasscout surrogate fit --curves`` (XGBoost, 5 x 300
trees of depth 4 per latent number) and validates it on its held-out runs
(:func:`strategies.curve_validate.validate_curves`). Printed, mean over splits: curve MAE over all epochs and
at epoch 1 / the middle / the last epoch; the final epoch's Kendall tau and MAE; roughness of virtual vs
real runs (median ratio over epochs; 1 = as jittery as real runs); and per early-stopping rule the epoch
saving and regret on the real held-out runs against the surrogate's virtual runs of the same cells (the same
random orders). Fit seconds are wall time on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("NASSCOUT_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tables", default="datasets/nb201-fmnist-mini.h5,datasets/nb201-fmnist-long.h5"
    )
    ap.add_argument("--configs", default="svd:3,svd:5,svd:8,param")
    ap.add_argument("--fraction", type=float, default=0.8)
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np

    from predictors.curve_surrogate_fit import fit_curve_surrogate
    from strategies.curve_validate import validate_curves
    from surrogate.tabular import TabularBenchmark

    rows = []
    for path in [t for t in args.tables.split(",") if t]:
        truth = TabularBenchmark.open(path)
        ds = truth.datasets[0]
        n = len(truth.cells_for(ds))
        T = max(truth.fidelities_for(ds))
        if not args.json:
            print(
                f"\n{truth.name}: {n} cells x {T} epochs, {len(truth.seeds(ds, T))} seed(s); train "
                f"{args.fraction:g}, {args.splits} splits, {args.orders} orders"
            )
            print(
                f"{'config':8} {'fit s':>6} {'MAE':>6} {'ep1':>6} {'mid':>6} {'last':>6} {'tau':>6} "
                f"{'rough':>6}  early stopping: saving real/sur, regret real/sur"
            )
        for config in [c for c in args.configs.split(",") if c]:
            method, _, k = config.partition(":")
            runs, secs = [], []
            for split in range(args.splits):
                t0 = time.perf_counter()
                sur = fit_curve_surrogate(
                    truth,
                    ds,
                    method=method,
                    components=int(k) if k else None,
                    train_fraction=args.fraction,
                    seed=split,
                    source_name=path,
                )
                secs.append(time.perf_counter() - t0)
                runs.append(validate_curves(sur, orders=args.orders, seed=split, truth=truth))
            per = np.mean([r["curve_mae_per_epoch"] for r in runs], axis=0)
            row = {
                "table": truth.name,
                "config": config,
                "splits": args.splits,
                "n_heldout": runs[0]["n_heldout"],
                "fit_s": float(np.mean(secs)),
                "curve_mae": float(np.mean([r["curve_mae"] for r in runs])),
                "mae_epoch1": float(per[0]),
                "mae_mid": float(per[len(per) // 2 - 1]),
                "mae_last": float(per[-1]),
                "final_kendalltau": float(np.mean([r["final_kendalltau"] for r in runs])),
                "final_mae": float(np.mean([r["final_mae"] for r in runs])),
                "roughness_ratio": float(
                    np.mean([r["noise"]["roughness_ratio_median"] for r in runs])
                ),
                "early_stop": {},
            }
            for rule in runs[0]["early_stop"]:
                row["early_stop"][rule] = {
                    f"{what}_{src}": float(
                        np.mean([r["early_stop"][rule][src][what] for r in runs])
                    )
                    for what in ("epoch_saving", "regret_mean")
                    for src in ("real", "surrogate", "surrogate_mean")
                }
            rows.append(row)
            if not args.json:
                es = "  ".join(
                    f"{rule.split(' p<')[0]}: {e['epoch_saving_real']:.2f}/{e['epoch_saving_surrogate']:.2f}x "
                    f"{e['regret_mean_real']:.2f}/{e['regret_mean_surrogate']:.2f}"
                    for rule, e in row["early_stop"].items()
                )
                print(
                    f"{config:8} {row['fit_s']:6.1f} {row['curve_mae']:6.2f} {row['mae_epoch1']:6.2f} "
                    f"{row['mae_mid']:6.2f} {row['mae_last']:6.2f} {row['final_kendalltau']:6.3f} "
                    f"{row['roughness_ratio']:6.2f}  {es}"
                )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
