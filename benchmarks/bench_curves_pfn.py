"""The ``pfn`` extrapolator on our real Fashion-MNIST curves: final-value MAE, log-likelihood, coverage, speed.

    export PYTHONPATH=$PWD NASSCOUT_DATA_SOURCES=/work/shared/data
    nice -n 10 python benchmarks/bench_curves_pfn.py [--weights predictors/curves/data/pfn.pt]

Every recorded (cell, seed) curve of ``datasets/nb201-fmnist-mini.h5`` (20 epochs) and
``datasets/nb201-fmnist-long.h5`` (50 epochs) is cut at 10%, 25% and 50% of its epochs and the final value
predicted. Figures: MAE (accuracy points), mean log-likelihood of the final value (the contract's ``logpdf``,
per unit of normalised value), 90% central-interval coverage, Spearman of predicted vs real finals, and
seconds per curve (one batched call, model already loaded), and the bias (mean predicted minus real final).
The last-value and best-so-far MAEs (and the best-so-far Spearman) are printed alongside as the yardstick
every extrapolator has to beat.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from predictors.curves import Curves
from predictors.curves.pfn import PFNExtrapolator

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "fmnist-mini": ROOT / "datasets" / "nb201-fmnist-mini.h5",
    "fmnist-long": ROOT / "datasets" / "nb201-fmnist-long.h5",
}
CUTOFFS = (0.1, 0.25, 0.5)


def real_curves(path: Path) -> np.ndarray:
    """(n, T) validation-accuracy curves, one row per recorded (cell, seed)."""
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(path)
    cells = bench.cells_for("fashion-mnist")
    rows = [
        np.asarray(bench.curves(cells, dataset="fashion-mnist", metric="valid_acc", seed=s), float)
        for s in bench.seeds("fashion-mnist")
    ]
    c = np.concatenate(rows)
    return c[~np.isnan(c).any(axis=1)]


def evaluate(ex: PFNExtrapolator, acc: np.ndarray, cutoff: float) -> dict[str, float]:
    n, target = acc.shape
    k = max(1, int(round(cutoff * target)))
    part = Curves(acc).cut(k)
    final = acc[:, -1]
    ex.predict(part.subset(np.arange(min(n, 4))), target)  # load the weights outside the timing
    t0 = time.perf_counter()
    pred = ex.predict(part, target)
    q = pred.quantiles([0.05, 0.95])
    seconds = time.perf_counter() - t0
    return {
        "epochs_seen": k,
        "n_curves": n,
        "mae": float(np.mean(np.abs(pred.mean - final))),
        "bias": float(np.mean(pred.mean - final)),
        "loglik": float(np.mean(pred.logpdf(final))),
        "coverage90": float(np.mean((q[:, 0] <= final) & (final <= q[:, 1]))),
        "spearman": float(spearmanr(pred.mean, final)[0]),
        "time_per_curve_s": seconds / n,
        "mae_last": float(np.mean(np.abs(acc[:, k - 1] - final))),
        "mae_best": float(np.mean(np.abs(acc[:, :k].max(axis=1) - final))),
        "spearman_best": float(spearmanr(acc[:, :k].max(axis=1), final)[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None)
    a = ap.parse_args()
    ex = PFNExtrapolator(weights=a.weights)
    head = (
        f"{'source':<12} {'cut':>4} {'k':>3} {'n':>4} {'MAE':>6} {'bias':>6} {'loglik':>7} "
        f"{'cov90':>6} {'rho':>6} {'s/curve':>9} | {'MAE last':>8} {'MAE best':>8} {'rho best':>8}"
    )
    print(head)
    for name, path in SOURCES.items():
        acc = real_curves(path)
        for cut in CUTOFFS:
            r = evaluate(ex, acc, cut)
            print(
                f"{name:<12} {cut:>4} {r['epochs_seen']:>3} {r['n_curves']:>4} {r['mae']:>6.2f} "
                f"{r['bias']:>6.2f} {r['loglik']:>7.2f} {r['coverage90']:>6.2f} "
                f"{r['spearman']:>6.2f} {r['time_per_curve_s']:>9.2e} | {r['mae_last']:>8.2f} "
                f"{r['mae_best']:>8.2f} {r['spearman_best']:>8.2f}"
            )


if __name__ == "__main__":
    main()
