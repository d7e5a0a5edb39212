"""Does the supernet rank cells like full training does? Kendall tau, Spearman and top-10 overlap of one-shot
scores against our real Fashion-MNIST runs and NB201 CIFAR-10, next to params, synflow, jacov and trained
predictors fitted on 56 of the Fashion-MNIST cells, with the seconds each needed.

    nice -n 10 .venv/bin/python benchmarks/bench_supernet_rank.py --supernet FILE [--supernet FILE2 ...]
        [--recal 4] [--eval-images N] [--splits 5] [--predictors gp,xgb] [--measure-run]
    nice -n 10 .venv/bin/python benchmarks/bench_supernet_rank.py --ablation --supernet FILE

Protocol. Truth (a): the 200 cells of ``datasets/nb201-fmnist-mini.h5`` (validation accuracy after the
cpu-mini preset's own 20 epochs) and the cells of ``datasets/nb201-fmnist-long.h5`` (50 epochs). Truth (b):
NB201's CIFAR-10 validation accuracy (200 epochs, seed mean) of the same 200 cells: no CIFAR images exist
offline here, so this is a *Fashion-MNIST* supernet ranking cells by their *CIFAR-10* accuracy, a transfer
question, not NB201's own one-shot setting. For each of ``--splits`` random splits, 56 mini cells train the
predictors and every method is measured on the 144 held-out cells (the long set: its cells outside those 56);
figures are means over splits. Label-free methods (supernet, params, synflow, jacov) see no labels at all.

Seconds: a supernet's training CPU seconds (from its file) + scoring seconds of the 200 cells; synflow/jacov
the CPU seconds of computing them (the shared proxy cache records them); a trained predictor the training of
its 56 cells (56 x the median seconds of a cpu-mini run, ``--measure-run`` measures one now) + its fit.
``--ablation`` scores the 200 mini cells of one supernet under several scoring settings (BN recalibration
batches, evaluation images) and prints tau for each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

REPO = Path(__file__).resolve().parents[1]
N_TRAIN = 56


def truths() -> dict:
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    mini = TabularBenchmark.open(REPO / "datasets" / "nb201-fmnist-mini.h5")
    long = TabularBenchmark.open(REPO / "datasets" / "nb201-fmnist-long.h5")
    cells = mini.cells_for("fashion-mnist")
    r = mini.query(cells, dataset="fashion-mnist", seed="mean")
    lc = long.cells_for("fashion-mnist")
    cifar = load_benchmark("nb201").query(cells, dataset="cifar10", seed="mean").valid_acc
    return {
        "cells": cells,
        "mini": r.valid_acc,
        "run_seconds": float(np.median(r.train_time_s)),
        "long_cells": lc,
        "long": long.query(lc, dataset="fashion-mnist", seed="mean").valid_acc,
        "cifar": cifar,
    }


def rank_figures(score: np.ndarray, truth: np.ndarray, k: int = 10) -> tuple[float, float, float]:
    tau = float(kendalltau(score, truth).statistic)
    rho = float(spearmanr(score, truth).statistic)
    top_s = set(np.argsort(-score, kind="stable")[:k].tolist())
    top_t = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return tau, rho, len(top_s & top_t) / k


def measure_run_seconds() -> float:
    """CPU seconds of one real cpu-mini 20-epoch run of cell 1000 (one thread), measured now."""
    from surrogate.training.presets import get_preset
    from surrogate.training.trainer import RunSpec, train_run

    c0 = time.process_time()
    train_run(RunSpec("fashion-mnist", get_preset("cpu-mini"), 1000, 0))
    return time.process_time() - c0


def supernet_methods(path: str, settings, cells: np.ndarray, long_cells: np.ndarray) -> list[dict]:
    """Two rankings from one scoring pass: inherited-weight accuracy, and minus the validation loss."""
    from surrogate.training.supernet_score import ScoreCache, supernet_scores
    from surrogate.training.supernet_train import read_supernet_file

    h = read_supernet_file(path)
    everything = np.union1d(cells, long_cells)
    idx, acc, sec = supernet_scores(path, everything, settings)
    loss = ScoreCache(path, settings).loss[idx]
    pos = {int(c): i for i, c in enumerate(everything)}
    seconds = float(sec[[pos[int(c)] for c in cells]].sum())  # measured per cell when it was scored
    train_s = float(h.get("train_cpu_seconds", h["train_seconds"]))
    out = []
    for what, s in (("accuracy", acc), ("-loss", -loss)):
        out.append(
            {
                "name": f"supernet {Path(path).name} {what} ({h['sampling']}, {h['epochs_trained']} ep)",
                "seconds": train_s + seconds,
                "detail": f"train {train_s:.0f} s CPU + score {seconds:.0f} s",
                "score": (lambda v: lambda c: np.array([v[pos[int(x)]] for x in c]))(s),
            }
        )
    return out


def proxy_method(name: str, cells: np.ndarray, long_cells: np.ndarray) -> dict:
    from predictors.registry import make_predictor

    model = make_predictor(name, dataset="cifar10")
    everything = np.union1d(cells, long_cells)
    s = model.score(everything)
    s = np.where(np.isfinite(s), s, -np.inf)
    pos = {int(c): i for i, c in enumerate(everything)}
    seconds = 0.0
    if hasattr(model, "compute_seconds"):
        seconds = float(np.nansum(model.compute_seconds(cells)))
    return {
        "name": name,
        "labels": 0,
        "seconds": seconds,
        "detail": "cost model" if name == "params" else f"{seconds:.0f} s for {len(cells)} cells",
        "score": lambda c: np.array([s[pos[int(x)]] for x in c]),
    }


def evaluate(
    methods: list[dict], predictors: list[str], t: dict, splits: int, run_s: float
) -> list:
    from predictors.registry import make_predictor

    cells, rows = t["cells"], {}
    fit_s: dict[str, list[float]] = {p: [] for p in predictors}
    for split in range(splits):
        perm = np.random.default_rng(split).permutation(len(cells))
        train, test = perm[:N_TRAIN], perm[N_TRAIN:]
        lmask = ~np.isin(t["long_cells"], cells[train])
        lc, ltruth = t["long_cells"][lmask], t["long"][lmask]
        scorers = [(m["name"], m["score"]) for m in methods]
        for p in predictors:
            t0 = time.process_time()
            model = make_predictor(p, seed=split).fit(cells[train], t["mini"][train])
            fit_s[p].append(time.process_time() - t0)
            scorers.append((f"{p} (56 labelled cells)", model.predict))
        for name, score in scorers:
            figs = (
                rank_figures(score(cells[test]), t["mini"][test])
                + rank_figures(score(lc), ltruth)[:2]
                + rank_figures(score(cells[test]), t["cifar"][test])
            )
            rows.setdefault(name, []).append(figs)
    out = []
    for m in methods:
        out.append((m["name"], m["seconds"], m["detail"], np.mean(rows[m["name"]], axis=0)))
    for p in predictors:
        secs = N_TRAIN * run_s + float(np.mean(fit_s[p]))
        detail = f"56 runs x {run_s:.0f} s + fit {np.mean(fit_s[p]):.1f} s"
        out.append(
            (f"{p} (56 labelled cells)", secs, detail, np.mean(rows[f"{p} (56 labelled cells)"], 0))
        )
    return out


def print_table(rows: list, splits: int, n_long: int) -> None:
    print(
        f"\nmeans over {splits} splits; mini: 144 held-out cells of 200 (20 epochs); long: held-out cells of "
        f"{n_long} (50 epochs); CIFAR-10: NB201 200-epoch accuracy of the same 144 cells\n"
    )
    print(
        "| method | seconds | of which | mini tau | mini Spearman | mini top-10 | long tau | long Spearman "
        "| CIFAR-10 tau | CIFAR-10 Spearman | CIFAR-10 top-10 |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, secs, detail, f in rows:
        print(
            f"| {name} | {secs:,.0f} | {detail} | {f[0]:.3f} | {f[1]:.3f} | {f[2]:.2f} | {f[3]:.3f} | "
            f"{f[4]:.3f} | {f[5]:.3f} | {f[6]:.3f} | {f[7]:.2f} |"
        )


def ablation(path: str, t: dict, recals: list[int], images: list[int | None]) -> None:
    from surrogate.training.supernet_score import ScoreCache, ScoreSettings, supernet_scores
    from surrogate.training.supernet_train import read_supernet_file

    h = read_supernet_file(path)
    print(
        f"\n{path}: {h['sampling']}, {h['epochs_trained']} epochs, "
        f"{h.get('train_cpu_seconds', 0):.0f} s CPU training; all 200 mini cells, 32 long cells among them"
    )
    print(
        "| recal batches | eval images | acc tau | acc Spearman | acc top-10 | -loss tau | -loss Spearman "
        "| -loss top-10 | long: acc tau | long: -loss tau | s per cell |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cells = t["cells"]
    lpos = np.minimum(np.searchsorted(cells, t["long_cells"]), len(cells) - 1)
    inside = cells[lpos] == t["long_cells"]
    for r in recals:
        for m in images:
            settings = ScoreSettings(recal_batches=r, eval_images=m)
            idx, acc, sec = supernet_scores(path, cells, settings)
            loss = -ScoreCache(path, settings).loss[idx]
            fa, fl = rank_figures(acc, t["mini"]), rank_figures(loss, t["mini"])
            la = rank_figures(acc[lpos[inside]], t["long"][inside])[0]
            ll = rank_figures(loss[lpos[inside]], t["long"][inside])[0]
            print(
                f"| {r} | {m or 'all'} | {fa[0]:.3f} | {fa[1]:.3f} | {fa[2]:.2f} | {fl[0]:.3f} | {fl[1]:.3f} "
                f"| {fl[2]:.2f} | {la:.3f} | {ll:.3f} | {np.mean(sec):.3f} |",
                flush=True,
            )


def main() -> None:
    from surrogate.training.supernet_score import ScoreSettings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supernet", action="append", default=[], help="Supernet FILE (repeatable).")
    ap.add_argument("--recal", type=int, default=4)
    ap.add_argument("--eval-images", type=int, default=None)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--predictors", default="gp,xgb")
    ap.add_argument("--proxies", default="params,synflow,jacov")
    ap.add_argument("--measure-run", action="store_true", help="Time one real cpu-mini run now.")
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--ablation-recal", default="0,1,4,16")
    ap.add_argument("--ablation-images", default="500,all")
    args = ap.parse_args()
    t = truths()
    if args.ablation:
        recals = [int(x) for x in args.ablation_recal.split(",")]
        images = [None if x == "all" else int(x) for x in args.ablation_images.split(",")]
        for path in args.supernet:
            ablation(path, t, recals, images)
        return
    run_s = t["run_seconds"]
    if args.measure_run:
        run_s = measure_run_seconds()
        print(
            f"one cpu-mini 20-epoch run of cell 1000: {run_s:.1f} s CPU (5 runs: {5 * run_s:.0f} s)"
        )
    else:
        print(f"median recorded seconds of a cpu-mini 20-epoch run (mini set): {run_s:.1f} s")
    settings = ScoreSettings(recal_batches=args.recal, eval_images=args.eval_images)
    methods = [
        m for p in args.supernet for m in supernet_methods(p, settings, t["cells"], t["long_cells"])
    ]
    methods += [proxy_method(p, t["cells"], t["long_cells"]) for p in args.proxies.split(",") if p]
    preds = [p for p in args.predictors.split(",") if p]
    rows = evaluate(methods, preds, t, args.splits, run_s)
    print_table(rows, args.splits, len(t["long_cells"]))
    print(
        f"\nscoring: recal_batches={args.recal}, eval_images={args.eval_images or 'all'}, one per class"
    )


if __name__ == "__main__":
    main()
