"""mcmc vs fast (Domhan et al.'s curve ensemble, issue #10) on our real Fashion-MNIST curves.

    nice -n 10 .venv/bin/python benchmarks/bench_curves_parametric.py [--sources fmnist-long,fmnist-mini]
        [--cutoff 0.25] [--mcmc-every 1] [--seed 0]

For each source: every cell's seed-0 validation-accuracy curve, cut at round(cutoff x epochs), target = the
last epoch. Prints per extrapolator the mean log-likelihood of the true final (the contract's ``logpdf``,
normalised units), MAE (percentage points), 90% interval coverage, and CPU seconds per curve (process time;
each extrapolator is warmed up on two curves first, so imports are not charged). ``--mcmc-every k`` runs
mcmc on every k-th curve only; fast is then scored on that same subset too (and on all curves, for its
batch speed). Target (issue #10, 25% cutoff on fmnist-long): fast within 10% of mcmc's log-likelihood at
>= 100x its speed per curve.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "fmnist-long": ROOT / "datasets" / "nb201-fmnist-long.h5",
    "fmnist-mini": ROOT / "datasets" / "nb201-fmnist-mini.h5",
}


def load(source: str) -> np.ndarray:
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(SOURCES[source])
    cells = bench.cells_for("fashion-mnist")
    acc = bench.curves(cells, dataset="fashion-mnist", metric="valid_acc", seed=0)
    return np.asarray(acc, dtype=np.float64)


def score(name: str, acc: np.ndarray, cut: int, seed: int, **options) -> dict[str, float]:
    from predictors.curves import Curves, make_extrapolator

    target = acc.shape[1]
    curves, truth = Curves(acc).cut(cut), acc[:, target - 1]
    ex = make_extrapolator(name, seed=seed, **options)
    ex.predict(
        curves.subset([0, 1]), target
    )  # warm-up: imports and first-call costs are not charged
    t0 = time.process_time()
    pred = ex.predict(curves, target)
    cpu = time.process_time() - t0
    q = pred.quantiles([0.05, 0.95])
    return {
        "loglik": float(np.mean(pred.logpdf(truth))),
        "mae": float(np.mean(np.abs(pred.mean - truth))),
        "coverage90": float(np.mean((truth >= q[:, 0]) & (truth <= q[:, 1]))),
        "s_per_curve": cpu / len(acc),
    }


def line(label: str, n: int, r: dict[str, float]) -> str:
    return (
        f"  {label:<22} n={n:<4d} loglik {r['loglik']:7.3f}  MAE {r['mae']:6.2f}  "
        f"cov90 {r['coverage90']:.2f}  {r['s_per_curve']:9.4f} s/curve"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default="fmnist-long,fmnist-mini")
    ap.add_argument("--cutoff", type=float, default=0.25)
    ap.add_argument("--mcmc-every", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for source in args.sources.split(","):
        acc = load(source)
        epochs = acc.shape[1]
        cut = max(1, round(args.cutoff * epochs))
        sub = acc[:: args.mcmc_every]
        print(
            f"== {source}: {len(acc)} curves x {epochs} epochs, cut at epoch {cut}, target {epochs}"
        )
        last = np.mean(np.abs(sub[:, cut - 1] - sub[:, -1]))
        print(f"  last value carried forward: MAE {last:.2f} on the {len(sub)} curves mcmc sees")
        mc = score("mcmc", sub, cut, args.seed)
        fs = score("fast", sub, cut, args.seed)
        print(line("mcmc (paper defaults)", len(sub), mc))
        print(line("fast (auto, same curves)", len(sub), fs))
        if len(sub) < len(acc):
            print(line("fast (auto, all curves)", len(acc), score("fast", acc, cut, args.seed)))
        for predictive in ("sample", "linear"):
            r = score("fast", sub, cut, args.seed, predictive=predictive)
            print(line(f"fast, {predictive} only", len(sub), r))
        rel = (fs["loglik"] - mc["loglik"]) / abs(mc["loglik"])
        print(
            f"  fast vs mcmc: loglik {fs['loglik']:.3f} vs {mc['loglik']:.3f} ({100 * rel:+.1f}% of |mcmc|), "
            f"speed x{mc['s_per_curve'] / fs['s_per_curve']:.0f} per curve"
        )


if __name__ == "__main__":
    main()
