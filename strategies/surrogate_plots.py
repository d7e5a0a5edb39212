"""The two pictures of a surrogate validation: seed spread (real vs surrogate) and regret side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_plots(result: dict[str, Any], out: Path) -> list[Path]:
    """``noise.png`` (when the data has a seed spread) and ``regret.png``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    title = f"{result['source']} {result['dataset']}: {result['model']}, {result['train_fraction']:g} of cells"
    noise = result.get("noise", {})
    if "_real" in noise:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for label, key in (
            ("table (real seeds)", "_real"),
            ("surrogate (virtual seeds)", "_surrogate"),
        ):
            v = np.sort(noise[key])
            ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=label)
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel(f"seed-to-seed std of validation value at {noise['fidelity']} epochs")
        ax.set_ylabel("fraction of held-out cells")
        ax.set_title(
            f"KS D={noise['ks_statistic']:.3f}, p={noise['ks_pvalue']:.2g} ({noise['n_cells']} cells)"
        )
        ax.legend(loc="lower right")
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        written.append(out / "noise.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    per = result["strategies"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for name, r in per.items():
        for ax, key in zip(axes, ("truth", "surrogate")):
            c = r["_curves"][key]
            ax.plot(np.arange(1, len(c) + 1), c, label=name)
    for ax, key in zip(axes, ("table (truth)", "surrogate")):
        ax.set_title(key)
        ax.set_xlabel("evaluations")
        ax.set_yscale("symlog", linthresh=0.1)
    axes[0].set_ylabel(f"mean regret over {result['n_seeds']} seeds (points)")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"{title}; Spearman of final regrets {result['strategy_regret_spearman']:.2f}, "
        f"largest gap {result['max_anytime_gap']:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    written.append(out / "regret.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written
