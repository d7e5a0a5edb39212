"""Quality and speed of the trained predictors on NB201 (NASLib protocol), printed as tables.

Per seed: 200 random test cells, then the training cells drawn from the rest; target = mean 200-epoch
validation accuracy. Prints Kendall tau (mean over seeds), coverage of the 90% interval, fit and predict
time per predictor x train size. Run by hand:

    .venv/bin/python benchmarks/bench_predictors.py --predictors gp,xgb --sizes 10,23,56,135,209,500
    .venv/bin/python benchmarks/bench_predictors.py --features none     # without zero-cost side features

``--features basic`` passes the free table log(params), log(flops), zen from the benchmark;
``--features full`` uses ``predictors.zerocost.cell_features``: params, flops, zen and whatever synflow/jacov values
are cached (NaN elsewhere).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import kendalltau

from predictors.base import Z90
from predictors.registry import make_predictor
from surrogate.registry import load_benchmark


def cell_features(kind: str, dataset: str) -> np.ndarray | None:
    if kind == "none":
        return None
    bench = load_benchmark("nb201")
    cells = bench.space.all_indices
    if kind == "full":
        from predictors.zerocost import cell_features as zerocost_table

        table, names = zerocost_table(dataset)
        print(f"side features: {', '.join(names)} (cached values only)", flush=True)
        return table
    q = bench.query(cells, dataset=dataset)
    return np.column_stack(
        [np.log(q.params_m), np.log(q.flops_m), bench.extra(cells, dataset=dataset, field="zen")]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictors", default="gp,xgb,mlp-ensemble")
    ap.add_argument("--sizes", default="10,23,56,135,209,500")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--test-size", type=int, default=200)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--features", default="basic", choices=("none", "basic", "full"))
    ap.add_argument(
        "--options",
        default="{}",
        help='JSON options per predictor, e.g. {"gp": {"target": "identity"}}',
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--speed",
        type=int,
        default=0,
        metavar="N",
        help="instead: time fit on N cells and ranking all 15,625 cells, per predictor",
    )
    args = ap.parse_args()
    if args.speed:
        speed(args)
        return

    bench = load_benchmark("nb201")
    y_all = bench.query(bench.space.all_indices, dataset=args.dataset).valid_acc
    feats = cell_features(args.features, args.dataset)
    options = json.loads(args.options)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for name in args.predictors.split(","):
        for size in sizes:
            taus, covs, fits, preds, maes = [], [], [], [], []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                perm = rng.permutation(len(y_all))
                test, train = perm[: args.test_size], perm[args.test_size : args.test_size + size]
                opts = dict(options.get(name, {}))
                if feats is not None:
                    opts["cell_features"] = feats
                model = make_predictor(name, seed=seed, **opts)
                t0 = time.perf_counter()
                model.fit(train, y_all[train])
                t1 = time.perf_counter()
                mean, std = model.predict(test, return_std=True)
                t2 = time.perf_counter()
                taus.append(kendalltau(mean, y_all[test])[0])
                covs.append(np.mean(np.abs(mean - y_all[test]) <= Z90 * std))
                maes.append(np.mean(np.abs(mean - y_all[test])))
                fits.append(t1 - t0)
                preds.append(t2 - t1)
            row = {
                "predictor": name,
                "train_size": size,
                "tau": round(float(np.mean(taus)), 3),
                "tau_std": round(float(np.std(taus)), 3),
                "coverage90": round(float(np.mean(covs)), 3),
                "mae": round(float(np.mean(maes)), 2),
                "fit_s": round(float(np.mean(fits)), 3),
                "predict_s": round(float(np.mean(preds)), 4),
            }
            rows.append(row)
            if not args.json:
                print(
                    f"{name:14s} n={size:4d}  tau {row['tau']:.3f} +- {row['tau_std']:.3f}  "
                    f"cov90 {row['coverage90']:.2f}  mae {row['mae']:5.2f}  "
                    f"fit {row['fit_s']:7.3f}s  predict {row['predict_s']:.4f}s",
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=1))


def speed(args: argparse.Namespace) -> None:
    """Fit on ``--speed`` cells (seed 0), then predict mean and std for the whole space.

    Wall and process CPU time are both printed: on a shared machine the wall time includes waiting for a
    core, the CPU time does not (multi-threaded parts count every thread's time).
    """
    bench = load_benchmark("nb201")
    cells = bench.space.all_indices
    y_all = bench.query(cells, dataset=args.dataset).valid_acc
    feats = cell_features(args.features, args.dataset)
    options = json.loads(args.options)
    train = np.random.default_rng(0).permutation(len(cells))[: args.speed]
    for name in args.predictors.split(","):
        opts = dict(options.get(name, {}))
        if feats is not None:
            opts["cell_features"] = feats
        model = make_predictor(name, seed=0, **opts)
        model.fit(train[:20], y_all[train[:20]])  # warm-up: imports, feature tables
        model = make_predictor(name, seed=0, **opts)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(train, y_all[train])
        t1, c1 = time.perf_counter(), time.process_time()
        model.predict(cells, return_std=True)
        t2, c2 = time.perf_counter(), time.process_time()
        print(
            f"{name:14s} fit on {args.speed} cells {t1 - t0:7.3f}s (cpu {c1 - c0:7.3f}s)   "
            f"rank all {len(cells)} cells (mean+std) {t2 - t1:6.3f}s (cpu {c2 - c1:6.3f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
