"""Files, plots and text of a curve evaluation (``predictors.curves.evaluation`` runs the protocol).

``write_curve_result`` puts ``results.csv``, ``results.txt`` (the table), ``results.json``, ``meta.json``,
``predictions.csv`` (one row per curve x extrapolator x cutoff), ``examples.png`` (example curves with each
extrapolator's predictive 90 % band at the target, per cutoff) and ``mae_vs_cutoff.png`` into a folder, each
file written atomically.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from predictors.eval_report import _pyplot, _save_fig, json_dumps
from surrogate.atomic import atomic_write

N_EXAMPLES = 3


def format_curve_table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Fixed-width text: one line per extrapolator x cutoff, a second block for the slow subset."""

    def f(v: Any, spec: str) -> str:
        return format(v, spec) if v is not None and math.isfinite(v) else "nan"

    unit = "points" if meta["bounds"] == [0.0, 100.0] else "units"
    lines = [
        f"{meta['source']}: {meta['n_curves']} curves, {meta['folds']} folds by group, "
        f"target {meta['target_text']}; mae in metric {unit}, loglik per normalised unit"
    ]
    if meta["axis"] != "epoch":
        lines.append(
            f"note: the axis is {meta['axis']}, not epochs; 'cutoff' is a share of the anchors"
        )
    head = (
        f"{'extrapolator':12s} {'cutoff':>6s} {'k':>4s} {'n':>5s} {'mae':>8s} {'loglik':>7s} "
        f"{'cover90':>7s} {'spearman':>8s} {'s/curve':>9s} {'fit_s':>7s}"
    )
    for on in dict.fromkeys(r["on"] for r in rows):
        if on == "subset":
            lines.append(f"on the {meta['slow_curves']} curves {'/'.join(meta['slow'])} predicted:")
        lines.append(head)
        for r in (r for r in rows if r["on"] == on):
            lines.append(
                f"{r['extrapolator']:12s} {r['cutoff']:6.3g} {r['cutoff_epoch']:4d} {r['n_curves']:5d} "
                f"{f(r['mae'], '8.3f')} {f(r['loglik'], '7.2f')} {f(r['coverage90'], '7.2f')} "
                f"{f(r['spearman'], '8.3f')} {f(r['time_per_curve_s'], '9.2e')} {f(r['fit_s'], '7.2f')}"
            )
    lines.append(f"wall time {meta['wall_time_s']:.1f} s")
    return "\n".join(lines)


def write_curve_result(result: Any, out_dir: str | os.PathLike) -> Path:
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "results.csv", pd.DataFrame(result.rows).to_csv(index=False))
    atomic_write(out / "results.txt", format_curve_table(result.rows, result.meta) + "\n")
    atomic_write(out / "results.json", json_dumps(result.rows))
    atomic_write(out / "meta.json", json_dumps(result.meta))
    frames = []
    for (name, c), p in result.preds.items():
        done = np.flatnonzero(np.isfinite(p["mean"]))
        frames.append(
            pd.DataFrame(
                {
                    "curve": done,
                    "label": [result.source.labels[i] for i in done],
                    "extrapolator": name,
                    "cutoff": c,
                    "true_final": result.truth[done],
                    **{k: v[done] for k, v in p.items()},
                }
            )
        )
    atomic_write(out / "predictions.csv", pd.concat(frames).to_csv(index=False))
    plot_examples(result, out / "examples.png")
    plot_mae(result, out / "mae_vs_cutoff.png")
    return out


def plot_examples(result: Any, path: Path) -> None:
    """Rows: example test curves (from the slow subset, so every extrapolator has them); columns: cutoffs."""
    plt = _pyplot()
    src, cut = result.source, result.spec.cutoffs
    pool = np.flatnonzero(result.subset)
    rng = np.random.default_rng(result.spec.seed)
    ex = np.sort(rng.choice(pool, min(N_EXAMPLES, len(pool)), replace=False))
    names = result.spec.extrapolators
    fig, axes = plt.subplots(
        len(ex), len(cut), figsize=(4.2 * len(cut), 2.9 * len(ex)), squeeze=False
    )
    cmap = plt.get_cmap("tab10")
    x = src.x
    span = (np.log(x[-1]) - np.log(x[0])) if src.axis != "epoch" else (x[-1] - x[0])
    for i, row in enumerate(ex):
        y = src.curves.values[row]
        for j, (c, k) in enumerate(zip(cut, result.cutoff_epochs, strict=True)):
            ax = axes[i, j]
            ax.plot(x, y, color="0.75", lw=1.2, label="true curve")
            ax.plot(x[:k], y[:k], color="black", lw=1.6, label="seen part")
            for m, name in enumerate(names):
                p = result.preds[(name, c)]
                if not np.isfinite(p["mean"][row]):
                    continue
                off = 0.02 * span * (m - (len(names) - 1) / 2)
                xm = np.exp(np.log(x[-1]) + off) if src.axis != "epoch" else x[-1] + off
                lo, mu, hi = p["lo"][row], p["mean"][row], p["hi"][row]
                ax.errorbar(
                    [xm], [mu], yerr=[[mu - lo], [hi - mu]], fmt="o", ms=3, capsize=2,
                    color=cmap(m % 10), label=name,
                )  # fmt: skip
            if src.axis != "epoch":
                ax.set_xscale("log")
            ax.set_title(f"{src.labels[row]}, cutoff {c:g}", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(src.axis)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(f"{src.name}: mean and 90% interval at {result.meta['target_text']}", fontsize=10)
    fig.tight_layout()
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 8),
        fontsize=8,
    )  # fmt: skip
    _save_fig(fig, path)
    plt.close(fig)


def plot_mae(result: Any, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    cmap = plt.get_cmap("tab10")
    for m, name in enumerate(result.spec.extrapolators):
        rs = [r for r in result.rows if r["extrapolator"] == name]
        on = "all" if any(r["on"] == "all" for r in rs) else "subset"
        rs = [r for r in rs if r["on"] == on]
        label = name if on == "all" else f"{name} ({rs[0]['n_curves']} curves)"
        ax.plot(
            [r["cutoff"] for r in rs], [r["mae"] for r in rs], marker="o", color=cmap(m % 10),
            linestyle="-" if on == "all" else "--", label=label,
        )  # fmt: skip
    ax.set_xlabel(f"cutoff (share of the {result.source.axis} axis seen)")
    ax.set_ylabel("MAE of the final value")
    ax.set_title(f"{result.source.name}, {result.meta['n_curves']} curves", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_fig(fig, path)
    plt.close(fig)
