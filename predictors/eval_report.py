"""Files, plots and text of a predictor evaluation (``predictors.evaluation`` runs the protocol).

``write_result`` puts ``scores.csv`` (one row per predictor x train size x seed), ``predictions.csv`` (one row
per test cell), ``summary.json``, ``meta.json``, ``tau_vs_train_size.png`` and ``scatter_<predictor>.png``
into a folder, each file written atomically.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Z90
from surrogate.atomic import atomic_path, atomic_write


def write_result(result: Any, out_dir: str | os.PathLike) -> Path:
    """All result files of an ``EvalResult`` into ``out_dir`` (each written atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    summary = result.summary()
    m = result.meta
    title = f"{m['benchmark']} {m['dataset']}, {m['test_size']} test cells, {m['seeds']} seeds"
    _atomic_text(out / "scores.csv", pd.DataFrame(result.rows).to_csv(index=False))
    preds = pd.DataFrame(
        {k: np.concatenate(v) if v else np.empty(0) for k, v in result.predictions.items()}
    )
    _atomic_text(out / "predictions.csv", preds.to_csv(index=False))
    _atomic_text(out / "summary.json", json_dumps(summary))
    _atomic_text(out / "meta.json", json_dumps(m))
    plot_tau(summary, out / "tau_vs_train_size.png", title=title)
    for name in dict.fromkeys(r["predictor"] for r in result.rows):
        plot_scatter(preds, name, out / f"scatter_{name}.png", title=title)
    return out


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.generic):
        return _nan_to_none(obj.item())
    return obj


def json_dumps(obj: Any) -> str:
    """JSON with NaN written as null (strict JSON readers reject NaN)."""
    return json.dumps(_nan_to_none(obj), indent=2, allow_nan=False) + "\n"


def _atomic_text(path: Path, text: str) -> None:
    atomic_write(path, text)


# ---- plots ------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_fig(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_tau(summary: list[dict[str, Any]], path: Path, *, title: str = "") -> None:
    """Kendall tau (mean +- std over seeds) against training-set size, one line per predictor."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    from predictors.registry import predictor_class

    names = list(dict.fromkeys(r["predictor"] for r in summary))
    cmap = plt.get_cmap("tab20")
    for i, name in enumerate(names):
        rs = [r for r in summary if r["predictor"] == name]
        x = [r["train_size"] for r in rs]
        m = np.array([r["kendalltau_mean"] for r in rs], dtype=float)
        sd = np.array([r["kendalltau_std"] for r in rs], dtype=float)
        free = not predictor_class(name).needs_training
        color = cmap((2 * i) % 20 + (2 * i) // 20)  # the 10 dark shades first, then the light ones
        ax.errorbar(
            x,
            m,
            yerr=sd,
            label=name,
            color=color,
            marker="o",
            ms=4,
            capsize=2,
            linestyle="--" if free else "-",
            linewidth=1.2,
        )
    ax.set_xscale("log")
    sizes = sorted({r["train_size"] for r in summary})
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training cells")
    ax.set_ylabel("Kendall tau on test cells")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="dashed: no training")
    _save_fig(fig, path)
    plt.close(fig)


def plot_scatter(preds: Any, name: str, path: Path, *, title: str = "") -> None:
    """Predicted vs true accuracy at the largest training size, all seeds pooled; right: the top 90%."""
    plt = _pyplot()
    d = preds[preds["predictor"] == name]
    n = int(d["train_size"].max())
    d = d[d["train_size"] == n]
    from scipy.stats import kendalltau

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taus = [kendalltau(g["y_true"], g["y_pred"]).statistic for _, g in d.groupby("seed")]
    tau = float(np.nanmean(taus)) if len(taus) else math.nan
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.6))
    cut = float(np.quantile(d["y_true"], 0.1))
    for ax, part, label in (
        (axes[0], d, "all test cells"),
        (axes[1], d[d["y_true"] >= cut], f"true accuracy >= {cut:.1f}% (top 90%)"),
    ):
        ax.errorbar(
            part["y_true"],
            part["y_pred"],
            yerr=Z90 * part["y_std"],
            fmt="o",
            ms=2.5,
            alpha=0.35,
            elinewidth=0.5,
            color="tab:blue",
            ecolor="tab:gray",
        )
        lo, hi = float(part["y_true"].min()), float(part["y_true"].max())
        ax.plot([lo, hi], [lo, hi], color="k", linewidth=0.8)
        ax.set_xlabel("true accuracy (%)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("predicted accuracy (%), 90% interval")
    fig.suptitle(
        f"{name}, {n} training cells (mean tau over seeds {tau:.3f}; all seeds shown) - {title}",
        fontsize=10,
    )
    _save_fig(fig, path)
    plt.close(fig)


def format_table(summary: list[dict[str, Any]]) -> str:
    """A fixed-width text table of the summary, for the terminal."""
    head = (
        f"{'predictor':13s} {'train':>5s} {'seeds':>5s} {'tau':>13s} {'spearman':>8s} {'pearson':>7s} "
        f"{'mae':>6s} {'prec@10':>7s} {'cover90':>7s} {'fit_s':>7s} {'query_ms':>8s}"
    )
    lines = [head]

    def f(v: float, spec: str) -> str:
        return format(v, spec) if v is not None and math.isfinite(v) else "nan"

    for r in summary:
        tau = f"{f(r['kendalltau_mean'], '.3f')} +- {f(r['kendalltau_std'], '.3f')}"
        lines.append(
            f"{r['predictor']:13s} {r['train_size']:5d} {r['n_seeds']:5d} {tau:>13s} "
            f"{f(r['spearman_mean'], '8.3f')} {f(r['pearson_mean'], '7.3f')} {f(r['mae_mean'], '6.2f')} "
            f"{f(r['precision_at_10_mean'], '7.2f')} {f(r['coverage90_mean'], '7.2f')} "
            f"{f(r['fit_time_s'], '7.3f')} {f(1000 * r['query_time_s'], '8.3f')}"
        )
    return "\n".join(lines)


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
