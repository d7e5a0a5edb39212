"""Surrogate validation as a function of training fraction and model: one row per (model, fraction).

    PYTHONPATH=. nice -n 10 python benchmarks/bench_surrogate.py --benchmark nb201 --dataset cifar10 \\
        --models xgb --fractions 0.01,0.05,0.1,0.5 --seeds 20 --budget 100

Each row fits ``nasscout surrogate fit`` (model seed 0), then runs ``nasscout surrogate validate``'s checks:
held-out R², Kendall τ and MAE (final fidelity), the KS test of the seed spread, and strategy fidelity over
the strategies x seeds given (regret on each benchmark against its own best). Cost on 2 CPU cores: xgb fits
NB201 in 10-20 s at any fraction; gp takes ~5 s at 1% but ~5 min at 10% (cubic in the cells); gin and the
ensemble take minutes even at 1%, so sweep them over small fractions only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="nb201")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--models", default="xgb")
    ap.add_argument("--fractions", default="0.01,0.05,0.1,0.5")
    ap.add_argument("--strategies", default=None, help="default: the validate command's eight")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--out", default=None, help="also write one JSON line per row here")
    args = ap.parse_args()

    from predictors.surrogate_fit import fit_surrogate
    from strategies.surrogate_validate import default_strategies, validate
    from surrogate.registry import load_benchmark

    truth = load_benchmark(args.benchmark)
    ds = truth.dataset(args.dataset)
    names = args.strategies.split(",") if args.strategies else default_strategies(truth, ds)
    print(
        f"{args.benchmark} {args.dataset}: {len(names)} strategies x {args.seeds} seeds, "
        f"{args.budget} queries ({','.join(names)})"
    )
    head = (
        f"{'model':9s} {'frac':>5s} {'cells':>6s} {'fit s':>6s} {'R2':>6s} {'tau':>6s} {'MAE':>6s}"
    )
    print(head + f" {'KS D':>6s} {'KS p':>7s} {'rho':>6s} {'gap':>6s}")
    for model in args.models.split(","):
        for frac in (float(f) for f in args.fractions.split(",")):
            t0 = time.perf_counter()
            sur = fit_surrogate(
                truth,
                args.dataset,
                model=model,
                train_fraction=frac,
                seed=0,
                source_name=args.benchmark,
            )
            fit_s = time.perf_counter() - t0
            res = validate(
                sur, strategies=names, n_seeds=args.seeds, budget=args.budget, truth=truth
            )
            n = res["noise"]
            ks = (
                (f"{n['ks_statistic']:6.3f} {n['ks_pvalue']:7.3g}")
                if "ks_statistic" in n
                else f"{'-':>6s} {'-':>7s}"
            )
            print(
                f"{model:9s} {frac:5g} {res['n_train_cells']:6d} {fit_s:6.0f} {res['heldout_r2']:6.3f} "
                f"{res['heldout_kendalltau']:6.3f} {res['heldout_mae']:6.3f} {ks} "
                f"{res['strategy_regret_spearman']:6.3f} {res['max_anytime_gap']:6.3f}",
                flush=True,
            )
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(
                        json.dumps({"model": model, "fraction": frac, "fit_s": fit_s, **res}) + "\n"
                    )


if __name__ == "__main__":
    main()
