"""The report's plots: regret of the incumbent against queries, simulated time and training cost."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from strategies.report import LOG_FLOOR, SeedCurve, seed_curves


def _band(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.stats import t

    n = matrix.shape[0]
    mean = matrix.mean(axis=0)
    if n < 2:
        return mean, mean, mean
    half = t.ppf(0.975, n - 1) * matrix.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def _save(fig: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    os.replace(tmp, path)


def plot_regret(df: Any, meta: dict[str, Any], directory: str | os.PathLike) -> list[Path]:
    """``regret_vs_queries.png``, ``regret_vs_time.png`` and ``regret_vs_cost.png`` (training seconds charged,
    summed over workers): mean and 95% CI band over seeds, log regret.

    A curve starts where every seed has an incumbent and ends where the shortest seed ends (queries) or
    at the last evaluation of any seed (time; a finished search keeps its final incumbent).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    curves = seed_curves(df, meta)
    cfg, b = meta["config"], meta["benchmark"]
    n_seeds = max((len(cs) for cs in curves.values()), default=0)
    title = f"{b['name']} {cfg['dataset']}: regret of the incumbent, mean and 95% CI over {n_seeds} seeds"
    ylabel = f"validation regret (pp, log scale; 0 drawn at {LOG_FLOOR:g})"
    colors = list(plt.get_cmap("tab10").colors) + ["#000000", "#b8860b", "#00a0a0", "#7b68ee"]
    alpha = 0.15 if len(curves) <= 4 else 0.07

    def style(i: int) -> dict[str, Any]:
        return {"color": colors[i % len(colors)], "ls": "-" if i < 10 else "--", "lw": 1.8}

    def finish(ax: Any, xlabel: str) -> None:
        ax.set_yscale("log")
        ax.set_ylim(bottom=LOG_FLOOR / 1.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.4)
        ax.grid(True, which="minor", alpha=0.12)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    paths = []

    # regret vs queries
    fig, ax = plt.subplots(figsize=(9.5, 5))
    for i, (name, cs) in enumerate(curves.items()):
        n = min(len(c.regret) for c in cs)
        m = np.array([c.regret[:n] for c in cs])
        start = (
            int(np.argmax(~np.isnan(m).any(axis=0)))
            if n and (~np.isnan(m).any(axis=0)).any()
            else n
        )
        if start >= n:
            continue
        x = np.arange(start + 1, n + 1)
        mean, lo, hi = _band(m[:, start:])
        st = style(i)
        ax.plot(x, np.maximum(mean, LOG_FLOOR), label=name, **st)
        ax.fill_between(
            x,
            np.maximum(lo, LOG_FLOOR),
            np.maximum(hi, LOG_FLOOR),
            color=st["color"],
            alpha=alpha,
            lw=0,
        )
    finish(ax, "queries (evaluations, any fidelity)")
    p = directory / "regret_vs_queries.png"
    _save(fig, p)
    plt.close(fig)
    paths.append(p)

    for attr, name, xlabel in (
        (
            "sim_time",
            "regret_vs_time.png",
            f"simulated time (s, log; {cfg['n_workers']} worker(s), training time from the benchmark)",
        ),
        (
            "cost_s",
            "regret_vs_cost.png",
            "training cost charged (s, log; every worker's training seconds summed)",
        ),
    ):
        fig, ax = plt.subplots(figsize=(9.5, 5))
        _plot_against(ax, curves, attr, style, alpha)
        ax.set_xscale("log")
        finish(ax, xlabel)
        p = directory / name
        _save(fig, p)
        plt.close(fig)
        paths.append(p)
    return paths


def _plot_against(
    ax: Any, curves: dict[str, list[SeedCurve]], attr: str, style: Any, alpha: float
) -> None:
    """Mean regret and 95% band against a per-evaluation clock (``sim_time`` or cumulative ``cost_s``)."""
    starts = [
        getattr(c, attr)[np.argmax(~np.isnan(c.regret))]
        for cs in curves.values()
        for c in cs
        if (~np.isnan(c.regret)).any()
    ]
    ends = [getattr(c, attr)[-1] for cs in curves.values() for c in cs if len(c.regret)]
    if not (starts and ends and max(ends) > 0):
        return
    grid = np.geomspace(max(min(starts), 1e-9), max(ends), 300)
    for i, (name, cs) in enumerate(curves.items()):
        rows = []
        for c in cs:
            at = np.searchsorted(getattr(c, attr), grid, side="right") - 1
            rows.append(np.where(at >= 0, c.regret[np.maximum(at, 0)], np.nan))
        m = np.array(rows)
        ok = ~np.isnan(m).any(axis=0)
        if not ok.any():
            continue
        mean, lo, hi = _band(m[:, ok])
        st = style(i)
        ax.plot(grid[ok], np.maximum(mean, LOG_FLOOR), label=name, **st)
        ax.fill_between(
            grid[ok],
            np.maximum(lo, LOG_FLOOR),
            np.maximum(hi, LOG_FLOOR),
            color=st["color"],
            alpha=alpha,
            lw=0,
        )
