"""Summaries of a run directory: regret and test accuracy of the incumbent, per strategy, over seeds.

Regret (percentage points) = the benchmark's best seed-mean validation accuracy minus the true (seed-mean,
top-fidelity) validation accuracy of the incumbent, the cell with the best *observed* accuracy so far among
top-fidelity evaluations. "At N queries" means after the N-th evaluation (any fidelity); seeds with fewer
evaluations (a time budget ended them) are left out of that column, and it is null when none reached N.
Confidence intervals are Student-t 95% half-widths over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.runner import incumbent_positions

CHECKPOINTS = (25, 50, 100, 200)
LOG_FLOOR = 1e-3  # zero regret is drawn here on log axes


@dataclass
class SeedCurve:
    """One search: per evaluation, the incumbent's regret and test accuracy, and the simulated time."""

    seed: int
    regret: np.ndarray
    test_acc: np.ndarray
    sim_time: np.ndarray
    found_best: np.ndarray  # incumbent is the benchmark's best cell
    true_acc: np.ndarray  # of every evaluated cell (for Pareto fronts)
    params_m: np.ndarray
    cost_s: (
        np.ndarray
    )  # training seconds charged so far (cumulative, every worker's), per evaluation


def seed_curves(df: Any, meta: dict[str, Any]) -> dict[str, list[SeedCurve]]:
    """Per strategy (in run order), one curve per seed, from the results DataFrame."""
    b = meta["benchmark"]
    best, best_index, top = float(b["best_valid_acc"]), int(b["best_index"]), int(b["top_fidelity"])
    order = list(meta["config"]["strategies"])
    order += [s for s in df["strategy"].unique() if s not in order]
    out: dict[str, list[SeedCurve]] = {}
    df = df.sort_values(["strategy", "seed", "sim_time_s", "trial"], kind="stable")
    for (strategy, seed), g in df.groupby(["strategy", "seed"], sort=False):
        obs = g["observed_acc"].to_numpy(float)
        true = g["true_acc"].to_numpy(float)
        test = g["test_acc"].to_numpy(float)
        index = g["index"].to_numpy(np.int64)
        done = g["stopped_at"].to_numpy() == 0 if "stopped_at" in g else True  # stopped: no final
        pos = incumbent_positions(obs, (g["fidelity"].to_numpy() == top) & done)
        ok = pos >= 0
        safe = np.where(ok, pos, 0)
        curve = SeedCurve(
            seed=int(seed),
            regret=np.where(ok, best - true[safe], np.nan),
            test_acc=np.where(ok, test[safe], np.nan),
            sim_time=g["sim_time_s"].to_numpy(float),
            found_best=ok & (index[safe] == best_index),
            true_acc=true,
            params_m=g["params_m"].to_numpy(float),
            cost_s=np.cumsum(np.nan_to_num(g["cost_s"].to_numpy(float))),
        )
        out.setdefault(str(strategy), []).append(curve)
    return {s: out[s] for s in order if s in out}


def mean_ci(values: Any) -> tuple[float, float, int]:
    """Mean, Student-t 95% half-width and count of the finite values (NaN when undefined)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(v[0]), math.nan, 1
    from scipy.stats import t

    half = float(t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return float(v.mean()), half, n


def _at(curves: list[SeedCurve], attr: str, n: int | None) -> list[float]:
    vals = []
    for c in curves:
        a = getattr(c, attr)
        if n is None:
            vals.append(a[-1] if len(a) else math.nan)
        elif len(a) >= n:
            vals.append(a[n - 1])
    return vals


COST_REGRETS = (
    0.3,
    0.1,
)  # regret levels of ``median_cost_s_to_regret_<r>`` (the low-cost search's goals)


def cost_to_regret(curve: SeedCurve, level: float) -> float:
    """Training seconds charged until the incumbent's regret is at or below ``level`` (inf if never)."""
    hit = np.flatnonzero(curve.regret <= level + 1e-9)
    return float(curve.cost_s[hit[0]]) if len(hit) else math.inf


def median_cost_to_regret(curves: list[SeedCurve], level: float) -> float:
    """Lower median over seeds of ``cost_to_regret``; NaN (null in JSON) when fewer than half get there.

    The lower median of the sorted costs (never-reached = inf) is finite exactly when at least half of the
    seeds reach ``level``, and it is a cost one of the seeds actually paid.
    """
    costs = sorted(cost_to_regret(c, level) for c in curves)
    if not costs:
        return math.nan
    med = costs[(len(costs) - 1) // 2]
    return med if math.isfinite(med) else math.nan


def summarize(
    df: Any, meta: dict[str, Any], strategies: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per strategy: the figures ``nasscout report --json`` prints (NaN where undefined). ``strategies``
    lists every strategy to include, in order (those without rows get n_seeds 0 and NaN figures)."""
    curves = seed_curves(df, meta)
    if strategies is not None:
        curves = {s: curves.get(s, []) for s in strategies}
    objectives = meta.get("objectives", {})
    summary: dict[str, dict[str, Any]] = {}
    for strategy, cs in curves.items():
        s: dict[str, Any] = {"n_seeds": len(cs)}
        for n in CHECKPOINTS:
            m, h, k = mean_ci(_at(cs, "regret", n))
            s[f"regret_mean_at_{n}"], s[f"regret_ci95_at_{n}"], s[f"n_seeds_at_{n}"] = m, h, k
            m, h, _ = mean_ci(_at(cs, "test_acc", n))
            s[f"test_acc_mean_at_{n}"], s[f"test_acc_ci95_at_{n}"] = m, h
        s["regret_mean_final"], s["regret_ci95_final"], _ = mean_ci(_at(cs, "regret", None))
        s["test_acc_mean_final"], s["test_acc_ci95_final"], _ = mean_ci(_at(cs, "test_acc", None))
        first = [int(np.argmax(c.found_best)) + 1 if c.found_best.any() else math.inf for c in cs]
        med = float(np.median(first)) if first else math.nan
        s["median_queries_to_optimum"] = med if math.isfinite(med) else math.nan
        s["frac_seeds_reaching_optimum"] = float(np.mean(np.isfinite(first))) if first else math.nan
        s["queries_mean"] = float(np.mean([len(c.regret) for c in cs])) if cs else math.nan
        s["sim_time_mean_final_s"] = mean_ci(_at(cs, "sim_time", None))[0]
        s["cost_s_mean_final"] = mean_ci(_at(cs, "cost_s", None))[0]
        for level in COST_REGRETS:
            s[f"median_cost_s_to_regret_{level}"] = median_cost_to_regret(cs, level)
        if strategy in objectives:
            s.update(_pareto(cs, meta))
        summary[strategy] = s
    if "stopped_at" in df:  # --early-stop: how many trainings were stopped, and the epochs it saved
        for strategy, g in df.groupby("strategy", sort=False):
            if strategy in summary:
                fid, at = g["fidelity"].to_numpy(float), g["stopped_at"].to_numpy(float)
                used = np.where(at > 0, at, fid)
                summary[strategy]["stopped_share"] = float(np.mean(at > 0))
                summary[strategy]["epoch_saving"] = float(fid.sum() / used.sum())
    return summary


def _pareto(curves: list[SeedCurve], meta: dict[str, Any]) -> dict[str, Any]:
    """Front size and hypervolume of (true_acc up, params_m down) over each seed's evaluated cells."""
    try:
        from strategies.pareto import hypervolume_2d, pareto_front
    except ImportError:
        return {}
    ref = meta["benchmark"]["hv_ref"]
    if ref is None or None in ref:  # the benchmark records no params: no front to measure
        return {}
    sizes, hvs = [], []
    for c in curves:
        pts = np.column_stack([c.true_acc, c.params_m])
        pts = np.unique(
            pts[~np.isnan(pts).any(axis=1)], axis=0
        )  # a cell evaluated twice counts once
        if len(pts) == 0:
            continue
        sizes.append(int(pareto_front(pts).sum()))
        hvs.append(hypervolume_2d(pts, ref))
    m, h, _ = mean_ci(hvs)
    return {
        "pareto_front_size_mean": float(np.mean(sizes)) if sizes else math.nan,
        "hypervolume_mean": m,
        "hypervolume_ci95": h,
        "hypervolume_ref": list(ref),
    }


# ---- text ---------------------------------------------------------------------------------------------------
def _pm(mean: float, half: float, digits: int = 2) -> str:
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def format_table(
    summary: dict[str, dict[str, Any]], meta: dict[str, Any], notes: list[str] | None = None
) -> str:
    """The text report; ``notes`` (missing/incomplete data, see strategies.completeness) follow the tables.
    With completeness keys in ``summary``, the seeds column reads "used/with rows" where they differ and a
    * marks statistics that include incomplete searches."""
    cfg, b = meta["config"], meta["benchmark"]
    budget = []
    if cfg.get("budget_queries"):
        budget.append(f"{cfg['budget_queries']} queries")
    backend = cfg.get("backend", "simulated")
    if cfg.get("budget_seconds"):
        clock = "simulated" if backend == "simulated" else "wall"
        budget.append(f"{cfg['budget_seconds']:,.0f} {clock} s")
    observe = cfg.get("observe", "seed")
    seen = "one seed's value" if observe == "seed" else "the seed-mean"
    metric = b.get("metric", {}).get("name", "top-1 accuracy (%)")
    lines = [
        f"{b['name']} / {cfg['dataset']}: {', '.join(budget)}, {cfg['n_workers']} worker(s) on the "
        f"{backend} backend; observe={observe} (strategies see {seen}); "
        f"best valid {b['best_valid_acc']:.4g} (cell #{b['best_index']})",
        f"validation regret of the incumbent ({metric}; regret in its units), mean ± 95% CI over seeds",
    ]
    extra = []
    for name, p in (meta.get("plugins") or {}).items():
        sha = str(p.get("sha256") or "")[:12]
        ref = "" if p.get("ref") == name else f" = {p.get('ref')}"
        v = p.get("version")
        version = v if v and v not in str(p.get("origin")) else None
        extra.append(
            f"plugin {name}{ref} ({p.get('origin')}{', ' + version if version else ''}; "
            f"sha256 {sha or '?'})"
        )
    if cfg.get("options"):
        from strategies.options import describe

        extra.append(f"strategy options: {describe(cfg['options'])}")
    lines[1:1] = extra
    cols = [f"@{n}" for n in CHECKPOINTS] + ["final"]
    width = max([len("strategy")] + [len(s) for s in summary])
    head = f"{'strategy':<{width}}  {'seeds':>5}  " + "  ".join(f"{c:>13}" for c in cols)
    head += f"  {'optimum found':>13}"
    lines += [head, "-" * len(head)]
    for name, s in summary.items():
        vals = [_pm(s[f"regret_mean_at_{n}"], s[f"regret_ci95_at_{n}"]) for n in CHECKPOINTS]
        vals.append(_pm(s["regret_mean_final"], s["regret_ci95_final"]))
        med = s["median_queries_to_optimum"]
        frac = s["frac_seeds_reaching_optimum"]
        found = (
            f"{frac:.0%}" + (f", q~{med:.0f}" if math.isfinite(med) else "") if cs_ok(s) else "-"
        )
        lines.append(
            f"{name:<{width}}  {_seeds(s):>5}  "
            + "  ".join(f"{v:>13}" for v in vals)
            + f"  {found:>13}"
        )
    lines.append(
        "optimum found: share of seeds whose incumbent became the best cell; q~ = median queries to get "
        "there (shown when at least half the seeds do)"
    )
    lines += [
        "",
        "training cost: simulated training seconds charged until the incumbent's regret is <= 0.3 / <= 0.1 "
        "(median over seeds; - when fewer than half get there), and in all (mean)",
    ]
    for name, s in summary.items():
        reach = [s.get(f"median_cost_s_to_regret_{r}", math.nan) for r in COST_REGRETS]
        text = "  ".join(
            f"<= {r:g}: {f'{v:,.0f} s' if math.isfinite(v) else '-':>12}"
            for r, v in zip(COST_REGRETS, reach)
        )
        total = s.get("cost_s_mean_final", math.nan)
        lines.append(f"{name:<{width}}  {text}  total {total:,.0f} s")
    if b.get("kind") == "oneshot":  # what the search cost on the supernet
        one = b.get("oneshot") or {}
        costs = ", ".join(f"{k} {s['cost_s_mean_final']:,.1f} s" for k, s in summary.items())
        lines.append(
            f"cost: scoring each queried cell with inherited weights, mean seconds per search: {costs}; "
            f"plus the supernet's training, once: {one.get('train_seconds') or 0:,.0f} s "
            f"({one.get('train_cpu_seconds') or 0:,.0f} s CPU, {one.get('epochs_trained')} epochs, "
            f"{one.get('sampling')} sampling)"
        )
    if any(math.isfinite(s["test_acc_mean_final"]) for s in summary.values()):
        lines += ["", "test accuracy of the incumbent, %, mean ± 95% CI over seeds"]
        head = f"{'strategy':<{width}}  " + "  ".join(f"{c:>13}" for c in cols)
        lines += [head, "-" * len(head)]
        for name, s in summary.items():
            vals = [
                _pm(s[f"test_acc_mean_at_{n}"], s[f"test_acc_ci95_at_{n}"]) for n in CHECKPOINTS
            ]
            vals.append(_pm(s["test_acc_mean_final"], s["test_acc_ci95_final"]))
            lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>13}" for v in vals))
    else:
        lines.append("")
        lines.append(f"test accuracy: not recorded by {b['name']} for {cfg['dataset']}")
    mo = {k: s for k, s in summary.items() if "hypervolume_mean" in s}
    if mo:
        ref = next(iter(mo.values()))["hypervolume_ref"]
        lines += [
            "",
            f"Pareto front of (true valid acc ↑, params M ↓) over evaluated cells; hypervolume vs ref "
            f"({ref[0]:.2f}%, {ref[1]:.3f} M), mean over seeds",
        ]
        for name, s in mo.items():
            lines.append(
                f"{name:<{width}}  front size {_pm(s['pareto_front_size_mean'], math.nan, 1)}  "
                f"hypervolume {_pm(s['hypervolume_mean'], s['hypervolume_ci95'], 3)}"
            )
    elif meta.get("objectives"):
        lines.append("Pareto summary unavailable: strategies.pareto is missing")
    stops = {k: s for k, s in summary.items() if "epoch_saving" in s}
    if stops:
        from strategies.pruning import describe_early_stop

        lines += [
            "",
            f"early stopping {describe_early_stop(cfg.get('early_stop'))}: trainings stopped, and epochs "
            "to train every trial to its end / epochs trained (stopped trials are never incumbents)",
        ]
        for name, s in stops.items():
            lines.append(
                f"{name:<{width}}  stopped {s['stopped_share']:6.1%}  fewer epochs {s['epoch_saving']:.2f}x"
            )
    return "\n".join(lines + (notes or []))


def cs_ok(s: dict[str, Any]) -> bool:
    return math.isfinite(s.get("frac_seeds_reaching_optimum", math.nan))


def _seeds(s: dict[str, Any]) -> str:
    used = s.get("n_seeds_in_statistics", s["n_seeds"])
    text = str(used) if used == s["n_seeds"] else f"{used}/{s['n_seeds']}"
    return text + ("*" if s.get("statistics_over", "").startswith("all") else "")
