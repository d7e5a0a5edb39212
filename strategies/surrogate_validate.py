"""Is a fitted surrogate a stand-in for its table? NAS-Bench-301's three checks, against the known truth.

1. Held-out cells (every cell of the table the model did not see): R², Kendall τ and MAE of the seed-mean,
   at each fidelity (the top-level figures are the final fidelity).
2. Seed noise: each cell's seed-to-seed standard deviation, real (table) against virtual (surrogate), on up to
   ``NOISE_CELLS`` held-out cells with every seed recorded, compared by a two-sample Kolmogorov-Smirnov test. One number per cell keeps
   the samples independent (residuals of one cell sum to zero); the cap keeps the test about the shape of the
   distribution rather than detecting 0.01-point differences in 15,000 samples.
3. Strategy fidelity: every strategy runs with the same seeds and query budget on the surrogate and on the
   table (the same :class:`~strategies.runner.Runner`, one seed's noisy observation). Regret on each is against
   its own best cell. Reported: Spearman correlation across strategies of the mean final regret, and the
   largest gap between the two mean anytime regret curves of any strategy (percentage points).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import DataError, NasscoutError
from surrogate.fitted import SurrogateBenchmark, source_fingerprint

NOISE_CELLS = 1000
# Strategies cheap enough for 20 seeds on 2 cores, in order of preference: the default is the first eight
# that apply to the dataset (hyperband needs two fidelities, nsga2 a recorded params_m); pnas costs ~20 s a run.
PREFERRED_STRATEGIES = (
    "rs", "rea", "evolution", "reinforce", "ls", "nsga2", "bo-gp", "hyperband", "bo-xgb", "bananas",
)  # fmt: skip
N_DEFAULT = 8


def open_truth(sur: SurrogateBenchmark) -> Any:
    """The table a surrogate was fitted on, refused when its data is not the data the surrogate saw."""
    from surrogate.registry import load_benchmark

    src = sur.source
    truth = load_benchmark(src["benchmark"])
    where = sur.path or "the surrogate"
    if truth.space.name != sur.space.name:
        raise DataError(
            f"{where} is for {sur.space.name} cells but {src['benchmark']} holds {truth.space.name} cells"
        )
    ds = truth.dataset(src["dataset"])
    if source_fingerprint(truth, ds) != src["fingerprint"]:
        raise DataError(
            f"{where} was fitted on other data than {src['benchmark']} {ds} holds now (fingerprint mismatch); "
            "fit it again with `nasscout surrogate fit`"
        )
    return truth


def heldout_metrics(truth: Any, sur: SurrogateBenchmark) -> dict[str, Any]:
    from scipy.stats import kendalltau

    ds = sur.datasets[0]
    held = np.setdiff1d(truth.cells_for(ds), sur.train_cells)
    out: dict[str, Any] = {"n_heldout": int(len(held)), "per_fidelity": {}}
    for f in sur.fidelities:
        y = truth.query(held, dataset=ds, fidelity=f, seed="mean").valid_acc
        p = sur.query(held, dataset=ds, fidelity=f, seed="mean").valid_acc
        ok = np.isfinite(y)
        y, p = y[ok], p[ok]
        ss = float(np.sum((y - y.mean()) ** 2))
        c_true = truth.cost(held[ok], dataset=ds, fidelity=f)
        c_sur = sur.cost(held[ok], dataset=ds, fidelity=f)
        c_ok = np.isfinite(c_true) & (c_true > 0)
        out["per_fidelity"][str(f)] = {
            "r2": 1 - float(np.sum((y - p) ** 2)) / ss if ss > 0 else math.nan,
            "kendalltau": float(kendalltau(y, p)[0]),
            "mae": float(np.mean(np.abs(y - p))),
            "cost_mape": float(np.mean(np.abs(c_sur[c_ok] - c_true[c_ok]) / c_true[c_ok]))
            if c_ok.any()
            else math.nan,
        }
    top = out["per_fidelity"][str(sur.fidelities[-1])]
    out.update(heldout_r2=top["r2"], heldout_kendalltau=top["kendalltau"], heldout_mae=top["mae"])
    return out


def seed_spread(bench: Any, cells: np.ndarray, ds: str, fidelity: int) -> np.ndarray:
    """Per cell, the standard deviation (ddof=1) over its seeds; NaN unless every seed is recorded (the
    spread of 2 seeds is distributed unlike that of 3: NB201 CIFAR-10 has 2 seeds for 7,456 cells)."""
    v = np.column_stack(
        [
            bench.query(cells, dataset=ds, fidelity=fidelity, seed=s).valid_acc
            for s in bench.seeds(ds, fidelity)
        ]
    )
    full = np.all(np.isfinite(v), axis=1)
    out = np.full(len(cells), np.nan)
    out[full] = np.std(v[full], axis=1, ddof=1)
    return out


def noise_check(truth: Any, sur: SurrogateBenchmark, seed: int = 0) -> dict[str, Any]:
    """KS test of per-cell seed spread, real vs surrogate, at the final fidelity (needs >= 2 seeds)."""
    from scipy.stats import ks_2samp

    ds, f = sur.datasets[0], sur.fidelities[-1]
    if len(truth.seeds(ds, f)) < 2:
        return {"fidelity": f, "note": "the data records one seed per cell: no spread to compare"}
    held = np.setdiff1d(truth.cells_for(ds), sur.train_cells)
    real_all = seed_spread(truth, held, ds, f)
    held = held[np.isfinite(real_all)]
    pick = np.sort(
        np.random.default_rng(seed).choice(held, min(NOISE_CELLS, len(held)), replace=False)
    )
    real, virt = seed_spread(truth, pick, ds, f), seed_spread(sur, pick, ds, f)
    res = ks_2samp(real, virt)
    return {
        "fidelity": f,
        "n_cells": int(len(pick)),
        "ks_statistic": float(res.statistic),
        "ks_pvalue": float(res.pvalue),
        "real_std_median": float(np.median(real)),
        "surrogate_std_median": float(np.median(virt)),
        "_real": real,
        "_surrogate": virt,
    }


def _mean_curve(curves: list[np.ndarray], length: int) -> np.ndarray:
    out = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        c = np.asarray(c[:length], dtype=np.float64)
        out[i, : len(c)] = c
        if 0 < len(c) < length:
            out[i, len(c) :] = c[-1]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(out, axis=0)


def strategy_fidelity(
    truth: Any, sur: SurrogateBenchmark, strategies: list[str], n_seeds: int, budget: int
) -> dict[str, Any]:
    """Run every strategy x seed on both benchmarks; final-regret Spearman and the largest anytime gap."""
    from scipy.stats import spearmanr

    from strategies.runner import Runner

    ds = sur.datasets[0]
    per: dict[str, Any] = {}
    for name in strategies:
        curves: dict[str, list[np.ndarray]] = {"surrogate": [], "truth": []}
        for s in range(n_seeds):
            for label, bench in (("surrogate", sur), ("truth", truth)):
                traj = Runner(bench, dataset=ds, seed=s, budget_queries=budget).run(name)
                curves[label].append(traj.regret())
        mean = {k: _mean_curve(v, budget) for k, v in curves.items()}
        finals = {k: [float(c[-1]) for c in v] for k, v in curves.items()}
        gap = np.abs(mean["surrogate"] - mean["truth"])
        per[name] = {
            "final_regret_surrogate": float(np.nanmean(finals["surrogate"])),
            "final_regret_truth": float(np.nanmean(finals["truth"])),
            "max_anytime_gap": float(np.nanmax(gap)) if np.any(np.isfinite(gap)) else math.nan,
            "max_gap_at": int(np.nanargmax(gap)) + 1 if np.any(np.isfinite(gap)) else None,
            "_curves": mean,
        }
    a = [per[n]["final_regret_surrogate"] for n in strategies]
    b = [per[n]["final_regret_truth"] for n in strategies]
    rho = float(spearmanr(a, b)[0]) if len(strategies) >= 2 else math.nan
    gaps = [per[n]["max_anytime_gap"] for n in strategies]
    return {
        "strategy_regret_spearman": rho,
        "max_anytime_gap": float(np.nanmax(gaps)) if np.any(np.isfinite(gaps)) else math.nan,
        "n_strategies": len(strategies),
        "n_seeds": int(n_seeds),
        "budget_queries": int(budget),
        "strategies": per,
    }


def default_strategies(truth: Any, dataset: str) -> list[str]:
    """The first ``N_DEFAULT`` of ``PREFERRED_STRATEGIES`` that can run on ``truth``'s ``dataset``."""
    from strategies.runner import Runner

    runner = Runner(truth, dataset=dataset, seed=0, budget_queries=1)
    out = []
    for name in PREFERRED_STRATEGIES:
        try:
            runner.make_strategy(name)
        except NasscoutError:  # not applicable here (e.g. one fidelity for hyperband)
            continue
        out.append(name)
    return out[:N_DEFAULT]


def check_strategies(strategies: list[str]) -> list[str]:
    from strategies.registry import STRATEGIES

    if not strategies:
        raise NasscoutError(f"no strategies given; accepted: {', '.join(STRATEGIES)}")
    for s in strategies:
        if s not in STRATEGIES:
            raise NasscoutError(f"unknown strategy {s!r}; accepted: {', '.join(STRATEGIES)}")
    return list(dict.fromkeys(strategies))


def validate(
    sur: SurrogateBenchmark,
    *,
    strategies: list[str] | None,
    n_seeds: int,
    budget: int,
    out_dir: str | Path | None = None,
    truth: Any = None,
) -> dict[str, Any]:
    """All three checks; with ``out_dir``, ``validation.json`` and the two plots are written there.

    ``strategies`` None: :func:`default_strategies`."""
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise NasscoutError(f"seeds {n_seeds!r} is invalid; accepted: a positive integer")
    truth = truth if truth is not None else open_truth(sur)
    if strategies is None:
        strategies = default_strategies(truth, sur.datasets[0])
    strategies = check_strategies(strategies)
    result: dict[str, Any] = {
        "surrogate": str(sur.path),
        "source": sur.source["benchmark"],
        "dataset": sur.datasets[0],
        "model": sur.model,
        "train_fraction": sur.train_fraction,
        "n_train_cells": int(len(sur.train_cells)),
    }
    result.update(heldout_metrics(truth, sur))
    result["noise"] = noise_check(truth, sur)
    result.update(strategy_fidelity(truth, sur, strategies, n_seeds, budget))
    if out_dir is not None:
        from strategies.surrogate_plots import write_plots

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_plots(result, out)
        (out / "validation.json").write_text(json.dumps(public(result), indent=2) + "\n")
    return public(result)


def public(obj: Any) -> Any:
    """``obj`` without the private arrays (keys starting with ``_``) and with NaN as None (valid JSON)."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
