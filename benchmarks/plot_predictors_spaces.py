"""One figure and one table of Kendall tau from several ``nasscout predictors eval --out DIR`` folders.

Usage (the README's predictor figures on TransNAS-Bench-101 micro and NAS-Bench-Graph)::

    for spec in transnas-micro:class_object:zen transnas-micro:jigsaw:zen \\
                nasbench-graph:cora:params nasbench-graph:arxiv:params; do
        IFS=: read bench ds proxy <<< "$spec"
        nasscout predictors eval --benchmark $bench --dataset $ds --predictors xgb,gp,ensemble,$proxy \\
            --train-sizes 10,56,209 --seeds 5 --out out/pred-$bench-$ds
    done
    python benchmarks/plot_predictors_spaces.py out/pred-* --png benchmarks/figures/predictors_spaces.png

Each folder's ``meta.json`` names its benchmark and dataset; ``summary.json`` holds tau (mean and std over
seeds) per predictor and train size. The table is printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load(folder: Path) -> tuple[str, list[dict]]:
    meta = json.loads((folder / "meta.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    return f"{meta['benchmark']} {meta['dataset']}", summary


def table(results: list[tuple[str, list[dict]]]) -> str:
    sizes = sorted({r["train_size"] for _, s in results for r in s})
    head = "| benchmark, dataset | predictor | " + " | ".join(f"τ @ {n}" for n in sizes) + " |"
    lines = [head, "|" + "---|" * (len(sizes) + 2)]
    for title, summary in results:
        for name in dict.fromkeys(r["predictor"] for r in summary):
            cells = []
            for n in sizes:
                r = next(
                    (r for r in summary if r["predictor"] == name and r["train_size"] == n), None
                )
                cells.append(
                    "" if r is None else f"{r['kendalltau_mean']:.3f} ± {r['kendalltau_std']:.3f}"
                )
            lines.append(f"| {title} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(results: list[tuple[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (title, summary) in zip(axes, results, strict=True):
        for name in dict.fromkeys(r["predictor"] for r in summary):
            rs = [r for r in summary if r["predictor"] == name]
            ax.errorbar(
                [r["train_size"] for r in rs],
                [r["kendalltau_mean"] for r in rs],
                yerr=[r["kendalltau_std"] for r in rs],
                marker="o",
                ms=3,
                capsize=2,
                label=name,
                linestyle="--" if name in ("params", "flops", "zen") else "-",
            )
        ax.set_xscale("log")
        sizes = sorted({r["train_size"] for r in summary})
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training cells")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("Kendall tau (200 test cells, 5 seeds)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args()
    results = [load(f) for f in args.folders]
    print(table(results))
    if args.png is not None:
        figure(results, args.png)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
