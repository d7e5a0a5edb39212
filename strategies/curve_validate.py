"""Is a curve surrogate a stand-in for the training runs it learned from? Three checks on held-out runs.

Held-out cells are the table's cells the surrogate did not see (``--train-fraction`` below 1 at fit time).

1. Curves: the mean absolute error at every epoch between the surrogate's mean curve and the real seed-mean
   curve, and at the final epoch R², Kendall τ and MAE (the ranking a search relies on).
2. Noise: does a virtual run jitter like a real one? Per epoch, the standard deviation over cells of the
   second difference ``y[t+1] - 2 y[t] + y[t-1]`` (roughness: ~0 on a smooth trend, 6 sigma^2 in variance
   for independent noise) of one real run against one virtual run of the same cells; with several seeds per
   cell in the data, also each epoch's seed-to-seed standard deviation, real vs virtual. (A fixed
   difference, not residuals around a fitted smooth curve: it treats real and virtual runs alike and does
   not depend on how many components the surrogate used.)
3. Early stopping (LC-PFN's protocol, :mod:`strategies.pruning_sim`): the held-out cells trained in
   ``orders`` random orders and stopped or continued by each rule, once on their real curves (one real run
   each) and once on the surrogate's virtual runs of the same cells (the same seed), with the same orders.
   Reported per rule: the epoch saving factor and the mean regret of the final pick on each, and the gaps.
   Early stopping on the surrogate is only worth benchmarking if these agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError

# (label, rule, options, extrapolator fitted on the other half of the cells): the rules that stop something
# on our curves (README, early stopping); ``fast`` works too but costs ~2 s a curve on this machine.
DEFAULT_RULES: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("median k>=2", "median", {"min_epochs": 2}, 0),
    ("domhan last/fit2 p<0.05", "domhan", {"extrapolator": "last", "fit": True}, 2),
    ("domhan best/fit2 p<0.05", "domhan", {"extrapolator": "best", "fit": True}, 2),
)


def heldout_cells(sur: Any, truth: Any) -> np.ndarray:
    """The table's cells the surrogate did not see, or one line when there are none."""
    held = np.setdiff1d(truth.cells_for(sur.datasets[0]), sur.train_cells)
    if len(held) == 0:
        raise NasscoutError(
            f"{sur.name} was fitted on every cell of its table (train fraction {sur.train_fraction:g}); "
            "nothing is held out to validate on: fit with --train-fraction below 1"
        )
    return held


def curve_metrics(real: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Per-epoch MAE and final-epoch R², Kendall τ and MAE of predicted (n, T) against real (n, T) curves."""
    from scipy.stats import kendalltau

    err = np.abs(pred - real)
    y, p = real[:, -1], pred[:, -1]
    ss = float(np.sum((y - y.mean()) ** 2))
    return {
        "curve_mae": float(err.mean()),
        "curve_mae_per_epoch": err.mean(axis=0).round(4).tolist(),
        "final_mae": float(err[:, -1].mean()),
        "final_r2": 1 - float(np.sum((y - p) ** 2)) / ss if ss > 0 else math.nan,
        "final_kendalltau": float(kendalltau(y, p)[0]) if len(y) >= 2 else math.nan,
    }


def noise_metrics(real_runs: np.ndarray, virt_runs: np.ndarray) -> dict[str, Any]:
    """Roughness per epoch (std over cells of the second difference ``y[t+1] - 2 y[t] + y[t-1]``) of one
    real against one virtual run (n, seeds, T) of the same cells; the seed spread too where seeds >= 2."""
    r_real = np.diff(real_runs[:, 0], n=2, axis=1).std(axis=0)
    r_virt = np.diff(virt_runs[:, 0], n=2, axis=1).std(axis=0)
    out: dict[str, Any] = {
        "roughness_real": r_real.round(4).tolist(),
        "roughness_surrogate": r_virt.round(4).tolist(),
        "roughness_ratio_median": float(np.median(r_virt / np.maximum(r_real, 1e-9))),
    }
    full = np.all(np.isfinite(real_runs), axis=(1, 2))
    if real_runs.shape[1] >= 2 and virt_runs.shape[1] >= 2 and full.sum() >= 2:
        s_real = real_runs[full].std(axis=1, ddof=1).mean(axis=0)
        s_virt = virt_runs[full].std(axis=1, ddof=1).mean(axis=0)
        out.update(
            seed_std_real=s_real.round(4).tolist(),
            seed_std_surrogate=s_virt.round(4).tolist(),
            seed_std_ratio_median=float(np.median(s_virt / np.maximum(s_real, 1e-9))),
            seed_cells=int(full.sum()),
        )
    else:
        out["seed_note"] = (
            "one seed per held-out cell in the data: no seed-to-seed spread to compare"
        )
    return out


def early_stop_metrics(
    curve_sets: dict[str, np.ndarray],
    *,
    orders: int,
    seed: int,
    rules: tuple[tuple[str, str, dict[str, Any], int], ...] = DEFAULT_RULES,
) -> dict[str, Any]:
    """Per rule, the saving and regret of LC-PFN's protocol on each named set of curves (same orders)."""
    from predictors.curves import make_extrapolator
    from strategies.pruning import make_early_stop
    from strategies.pruning_sim import domhan_table, random_orders, simulate

    first = next(iter(curve_sets.values()))
    n, T = first.shape
    perm = random_orders(n, orders, seed)
    cost = np.full(n, float(T))
    frac = np.tile(np.arange(1, T + 1) / T, (n, 1))
    out: dict[str, Any] = {}
    for label, rule, opts, folds in rules:
        cfg = make_early_stop(rule, **opts)
        row: dict[str, Any] = {}
        for name, curves in curve_sets.items():
            P = None
            if rule == "domhan":
                k0 = cfg.first_checkpoint(T)
                ext = make_extrapolator(cfg.extrapolator, seed=seed)
                P, _ = domhan_table(curves, np.arange(k0, T), ext, (0.0, 100.0), folds=folds)
            s = simulate(cfg, curves, cost, frac, perm, P=P).summary()
            row[name] = {
                "epoch_saving": s["epoch_saving"],
                "regret_mean": s["regret_mean"],
                "found_best": s["found_best"],
                "stopped_mean": s["stopped_mean"],
            }
        out[label] = row
    return out


def validate_curves(
    sur: Any, *, orders: int = 100, seed: int = 0, truth: Any = None
) -> dict[str, Any]:
    """All three checks of a curve surrogate against its table (opened and fingerprint-checked)."""
    from strategies.surrogate_validate import open_truth, public

    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise NasscoutError(f"orders {orders!r} is invalid; accepted: a positive integer")
    truth = truth if truth is not None else open_truth(sur)
    ds, T = sur.datasets[0], sur.epochs
    held = heldout_cells(sur, truth)
    seeds = [int(s) for s in truth.seeds(ds, T)]
    real_runs = np.stack(
        [truth.curves(held, dataset=ds, fidelity=T, seed=s) for s in seeds], axis=1
    )
    with np.errstate(all="ignore"):
        real_mean = np.nanmean(real_runs, axis=1)
    ok = np.all(np.isfinite(real_mean), axis=1) & np.all(np.isfinite(real_runs[:, 0]), axis=1)
    held, real_runs, real_mean = held[ok], real_runs[ok], real_mean[ok]
    if len(held) < 2:
        raise NasscoutError(
            f"only {len(held)} held-out cell(s) have a complete curve; at least 2 are needed"
        )
    v_seeds = sur.seeds(ds)
    virt_runs = np.stack([sur.curves(held, dataset=ds, seed=s) for s in v_seeds], axis=1)
    pred = sur.curves(held, dataset=ds, seed="mean")
    spec = sur.header["curves"]
    result: dict[str, Any] = {
        "surrogate": str(sur.path),
        "source": sur.source["benchmark"],
        "dataset": ds,
        "method": spec["method"],
        "model": sur.model,
        "components": spec["components"],
        "epochs": T,
        "train_fraction": sur.train_fraction,
        "n_train_cells": int(len(sur.train_cells)),
        "n_heldout": int(len(held)),
        "noise_source": spec["noise_source"],
    }
    result.update(curve_metrics(real_mean, pred))
    result["noise"] = noise_metrics(real_runs, virt_runs)
    # one real run per cell (its first seed) against the virtual run of the same seed id where it exists
    same = v_seeds.index(seeds[0]) if seeds[0] in v_seeds else 0
    sets = {"real": real_runs[:, 0], "surrogate": virt_runs[:, same], "surrogate_mean": pred}
    es = early_stop_metrics(sets, orders=orders, seed=seed)
    result["early_stop"] = es
    gaps_s = [abs(r["surrogate"]["epoch_saving"] - r["real"]["epoch_saving"]) for r in es.values()]
    gaps_r = [abs(r["surrogate"]["regret_mean"] - r["real"]["regret_mean"]) for r in es.values()]
    result.update(
        early_stop_saving_max_gap=float(max(gaps_s)),
        early_stop_regret_max_gap=float(max(gaps_r)),
        orders=int(orders),
    )
    return public(result)
