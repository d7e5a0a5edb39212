"""The search report's three plots, each returned as PNG bytes (``report`` writes them and embeds them).

Colours say a trial's status everywhere: finished blue-grey, stopped early orange, diverged red, still
training grey; the best cell is drawn strong (valid blue, test green) or as a gold star.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from strategies.search.report import Derived, curve, num

COLOURS = {
    "finished": "#4c6a8a",
    "stopped": "#e07b00",
    "diverged": "#c0392b",
    "training": "#7f7f7f",
    "queued": "#7f7f7f",
}
VALID, TEST, STAR = "#1f5fbf", "#2ca02c", "#f2c200"
DPI = 110
OUTSIDE = {"fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "frameon": False}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def _title(s: dict[str, Any], what: str) -> str:
    state = "finished" if s.get("finished") else "still running"
    return f"{s['dataset']} ({s.get('preset')}, seed {s.get('seed')}, search {state}): {what}"


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555")


def plot_best_curve(s: dict[str, Any], d: Derived) -> bytes:
    """The best cell's validation (and test) accuracy per epoch, strong; every other trained trial faintly.

    A stopped (or diverged) trial ends with an x where it was stopped; when the summary holds its
    ``predicted_final``, a dotted line leads to a hollow circle at epoch T (what the extrapolation expected).
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    T = int(num(s["epochs"]))
    best = s["best"]
    best_trial = best.get("trial") if best else None
    seen: set[str] = set()
    for t, st in zip(s["trials"], d.status):
        c = curve(t.get("curve"))
        if not len(c) or (best is not None and t.get("trial") == best_trial):
            continue
        seen.add(st)
        colour = COLOURS[st]
        x = np.arange(1, len(c) + 1)
        ax.plot(x, c, color=colour, alpha=0.28, lw=0.9)
        if st in ("stopped", "diverged"):
            ax.plot(x[-1], c[-1], marker="x", color=colour, ms=6, mew=1.5, alpha=0.85)
            pf = num(t.get("predicted_final"))
            if math.isfinite(pf):
                seen.add("predicted")
                ax.plot([x[-1], T], [c[-1], pf], ls=":", lw=0.9, color=colour, alpha=0.5)
                ax.plot(T, pf, marker="o", ms=7, mfc="none", mec=colour, mew=1.3)
    handles = []
    labels = {
        "finished": "other finished trials",
        "stopped": "stopped early (x: where stopped)",
        "diverged": "diverged (x: where stopped)",
        "training": "still training",
    }
    for st, label in labels.items():
        if st in seen:
            marker = "x" if st in ("stopped", "diverged") else None
            handles.append(Line2D([], [], color=COLOURS[st], alpha=0.6, marker=marker, label=label))
    if "predicted" in seen:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                mfc="none",
                mec=COLOURS["stopped"],
                label=f"predicted final at epoch {T} (hollow)",
            )
        )
    if best is not None:
        v, te = curve(best.get("curve")), curve(best.get("test_curve"))
        name = f"best (trial {best.get('trial')})"
        if len(v):
            (h,) = ax.plot(np.arange(1, len(v) + 1), v, color=VALID, lw=2.4, label=f"{name}: valid")
            handles.append(h)
        if len(te):
            (h,) = ax.plot(
                np.arange(1, len(te) + 1), te, color=TEST, lw=1.8, ls="--", label=f"{name}: test"
            )
            handles.append(h)
        what = f"best cell, valid {num(best.get('valid_acc')):.2f}%, test {num(best.get('test_acc')):.2f}%"
    else:
        what = "no finished training yet"
    if not handles:
        _empty(ax, "no trial has trained an epoch yet")
    else:
        ax.legend(handles=handles, **OUTSIDE)
    ax.set_xlim(0.5, T + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"epoch (of {T})")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(_title(s, what), fontsize=10)
    ax.grid(True, alpha=0.4)
    return _png(fig)


def plot_pareto(s: dict[str, Any], d: Derived) -> bytes:
    """Validation accuracy against parameters (M): finished trials filled, the others hollow at their last
    value; the Pareto front (max accuracy, min params) of the finished ones as a step line; the best a star."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    ok = np.isfinite(d.valid) & np.isfinite(d.params)
    labels = {
        "finished": "finished",
        "stopped": "stopped early (last value, not final)",
        "diverged": "diverged (last value)",
        "training": "still training (last value)",
    }
    for st, label in labels.items():
        m = ok & (d.status == st)
        if not m.any():
            continue
        filled = st == "finished"
        ax.scatter(
            d.params[m],
            d.valid[m],
            s=34,
            label=f"{label}: {int(m.sum())}",
            facecolors=COLOURS[st] if filled else "none",
            edgecolors=COLOURS[st],
            linewidths=1.3,
            alpha=0.85,
            zorder=3,
        )
    f = d.front
    if len(f):
        right = max(np.nanmax(d.params[ok]), d.params[f[-1]]) * 1.03
        xs, ys = np.r_[d.params[f], right], np.r_[d.valid[f], d.valid[f[-1]]]
        ax.step(
            xs,
            ys,
            where="post",
            color="#222222",
            lw=1.4,
            zorder=2,
            label=f"Pareto front of the finished: {len(f)}",
        )
        for i in f:
            ax.annotate(
                str(s["trials"][i].get("trial")),
                (d.params[i], d.valid[i]),
                fontsize=7,
                xytext=(4, -10),
                textcoords="offset points",
                color="#222222",
            )
    best = s["best"]
    if best is not None and math.isfinite(num(best.get("params_m"))):
        ax.scatter(
            [num(best["params_m"])],
            [num(best.get("valid_acc"))],
            marker="*",
            s=260,
            color=STAR,
            edgecolors="black",
            zorder=4,
            label=f"best (trial {best.get('trial')})",
        )
    if ok.any():
        ax.legend(**OUTSIDE)
    else:
        _empty(ax, "no trial with both an accuracy and a parameter count yet")
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("validation accuracy (%, at the last epoch trained)")
    ax.set_title(_title(s, "accuracy vs size"), fontsize=10)
    ax.grid(True, alpha=0.4)
    return _png(fig)


def plot_budget(s: dict[str, Any], d: Derived) -> bytes:
    """Left: best-so-far validation accuracy against epochs spent. Right: spent vs avoided, in epochs.

    Order: trials are taken in the order of the summary's ``trials`` list (the order the search asked for them;
    with one worker that is also the order they ended) and each adds its ``epochs_done`` to the epochs
    spent, so trial i ends at x = sum of epochs_done of trials 0..i. Only a *finished* trial can raise the
    best so far (a stopped one never trained to the end); stopped trials are marked x at their last value.
    The bars: epochs trained (``budget.spent_epochs``), epochs the stopped trainings did not train
    (``avoided.stopped_epochs``), and screened-out candidates x T epochs (what training them would have cost).
    """
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.6, 1]})
    x, b = d.spent_x, d.best_so_far
    has = np.isfinite(b)
    if has.any():
        ax.step(
            np.r_[x[has], x[-1]],
            np.r_[b[has], b[-1]],
            where="post",
            color=VALID,
            lw=2,
            label="best finished so far",
        )
        for st, marker in (("finished", "o"), ("stopped", "x"), ("diverged", "x")):
            m = (d.status == st) & np.isfinite(d.valid)
            if m.any():
                ax.scatter(
                    x[m],
                    d.valid[m],
                    marker=marker,
                    s=22,
                    color=COLOURS[st],
                    alpha=0.7,
                    label=f"{st} trial ends (last value)",
                )
        ax.legend(
            fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False
        )
    else:
        _empty(ax, "no finished training yet")
    budget = s["budget"]
    if budget.get("unit") == "epochs" and math.isfinite(num(budget.get("total"))):
        ax.axvline(num(budget["total"]), color="#555555", ls="--", lw=1)
        ax.text(
            num(budget["total"]),
            0.02,
            " budget",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            color="#555555",
        )
    ax.set_xlim(left=0)
    ax.set_xlabel("epochs spent (cumulative, trials in the order they were asked)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(_title(s, "best so far vs training spent"), fontsize=10)
    ax.grid(True, alpha=0.4)

    names = [
        "trained (spent)",
        "stopped early\n(avoided)",
        "screened out\n(would have cost if trained)",
    ]
    values = [d.spent_epochs, d.stopped_epochs, d.screened_epochs]
    values = [v if math.isfinite(v) else 0.0 for v in values]
    colours = [VALID, COLOURS["stopped"], "#9467bd"]
    y = np.arange(len(names))[::-1]
    bx.barh(y, values, color=colours, alpha=0.85)
    for yi, v in zip(y, values):
        bx.text(v, yi, f" {v:,.0f}", va="center", fontsize=9)
    bx.set_yticks(y, names, fontsize=8)
    bx.set_xlim(0, max(max(values), 1.0) * 1.25)
    bx.set_xlabel("epochs")
    bx.set_title("training spent vs avoided", fontsize=10)
    bx.grid(True, axis="x", alpha=0.4)
    fig.tight_layout()
    return _png(fig)
