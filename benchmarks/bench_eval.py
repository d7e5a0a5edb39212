"""Speed and quality figures of the training-free proxies and the evaluation harness (run by hand).

1. Per-cell cost of synflow and jacov (cold: a fresh cache in a temporary NASSCOUT_HOME), with 1 and 2 torch
   threads, and of building the network alone.
2. The jacov data batch: 32 real Fashion-MNIST images vs a seeded Gaussian batch, compared on NASLib's
   491 reference cells (NAS-Bench-Suite-Zero's CIFAR-10 jacov, stored in the benchmark as ``zc_jacov``):
   Spearman with NASLib's values and Kendall tau with the 200-epoch accuracy.
3. ``nasscout predictors rank`` cost: predicting all 15,625 cells with models fitted on 500 cells.
4. Optionally (``--eval``) the wall time of an evaluation run with the given predictors.

    .venv/bin/python benchmarks/bench_eval.py [--cells 30] [--reference 60] [--rank xgb,gp]
        [--eval --predictors params,xgb --quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def proxy_costs(n: int) -> None:
    import torch

    from predictors.zerocost import ProxyCache
    from surrogate.network import build_network

    cells = np.random.default_rng(0).choice(15625, size=n, replace=False)
    t = time.perf_counter()
    for c in cells:
        build_network(int(c), seed=0)
    print(
        f"build NB201 network (C=16, N=5):      {1000 * (time.perf_counter() - t) / n:7.1f} ms/cell"
    )
    old = torch.get_num_threads()
    for threads in (1, 2):
        for proxy in ("synflow", "jacov"):
            with tempfile.TemporaryDirectory() as home:
                os.environ["NASSCOUT_HOME"] = home
                cache = ProxyCache(proxy, "cifar10", threads=threads)
                t = time.perf_counter()
                cache.values(cells)
                wall = time.perf_counter() - t
                sec = cache.seconds(cells)
            print(
                f"{proxy:8s} cold, {threads} thread(s):           {1000 * wall / n:7.1f} ms/cell "
                f"(median per class {1000 * np.nanmedian(sec):.1f} ms)"
            )
    torch.set_num_threads(old)


def batch_choice(n: int) -> None:
    import torch
    from scipy.stats import kendalltau, spearmanr

    from predictors.zerocost import image_batch, jacov_score
    from surrogate.registry import load_benchmark

    b = load_benchmark("nb201")
    all_ = b.space.all_indices
    ref = b.extra(all_, dataset="cifar10", field="zc_jacov")
    y = b.query(all_, dataset="cifar10").valid_acc
    have = np.flatnonzero(np.isfinite(ref) & (ref > -1e7))
    cells = np.random.default_rng(1).choice(have, size=min(n, len(have)), replace=False)
    naslib_tau = kendalltau(ref[cells], y[cells]).statistic
    print(
        f"jacov on {len(cells)} of NASLib's reference cells (NASLib's own tau with accuracy {naslib_tau:.3f}):"
    )
    torch.set_num_threads(1)  # as ProxyCache computes them
    for kind in ("fashion-mnist", "random"):
        batch = image_batch(kind, 32, seed=0)
        t = time.perf_counter()
        ours = np.array([jacov_score(int(c), "cifar10", batch) for c in cells])
        dt = (time.perf_counter() - t) / len(cells)
        ok = np.isfinite(ours)
        rho = spearmanr(ours[ok], ref[cells][ok]).statistic
        tau = kendalltau(np.where(ok, ours, -1e8), y[cells]).statistic
        print(
            f"  batch {kind:13s}: Spearman with NASLib {rho:.3f}, Kendall tau with accuracy "
            f"{tau:.3f}, {1000 * dt:.0f} ms/cell, {int((~ok).sum())} degenerate"
        )


def rank_costs(names: list[str]) -> None:
    from predictors.evaluation import build_predictor
    from predictors.io import load_predictor, save_predictor
    from predictors.zerocost import cell_features
    from surrogate.registry import load_benchmark

    b = load_benchmark("nb201")
    y = b.query(b.space.all_indices, dataset="cifar10").valid_acc
    train = np.random.default_rng(0).choice(15625, size=500, replace=False)
    table, _ = cell_features("cifar10", proxies=("params", "flops", "zen"))
    for name in names:
        model = build_predictor(name, seed=0, dataset="cifar10", features=table)
        t = time.perf_counter()
        model.fit(train, y[train])
        fit_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.model")
            save_predictor(model, path, {})
            size = os.path.getsize(path)
            t = time.perf_counter()
            loaded = load_predictor(path)
            load_s = time.perf_counter() - t
        t = time.perf_counter()
        loaded.predict(b.space.all_indices, return_std=True)
        first = time.perf_counter() - t
        t = time.perf_counter()
        loaded.predict(b.space.all_indices, return_std=True)
        again = time.perf_counter() - t
        print(
            f"{name:13s} fit(500) {fit_s:6.2f} s, file {size / 1e6:5.2f} MB, load {load_s:5.2f} s, "
            f"predict 15,625 cells {first:5.3f} s first / {again:5.3f} s again"
        )


def main() -> None:
    """Figures to stdout; each section is independent."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=30, help="cells for the proxy cost figures")
    ap.add_argument(
        "--reference", type=int, default=60, help="NASLib reference cells for the batch test"
    )
    ap.add_argument(
        "--rank", default="xgb,gp", help="models for the rank-cost figures ('' to skip)"
    )
    ap.add_argument("--eval", action="store_true", help="also time an evaluation run")
    ap.add_argument("--predictors", default="params,flops,zen,xgb,gp")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures scale with it)"
    )
    home = os.environ.get("NASSCOUT_HOME")
    proxy_costs(args.cells)
    if home is None:
        os.environ.pop("NASSCOUT_HOME", None)
    else:
        os.environ["NASSCOUT_HOME"] = home
    batch_choice(args.reference)
    if args.rank:
        rank_costs([n for n in args.rank.split(",") if n])
    if args.eval:
        from predictors.evaluation import QUICK_SEEDS, QUICK_TRAIN_SIZES, EvalSpec, evaluate

        spec = EvalSpec(
            predictors=tuple(args.predictors.split(",")),
            **(
                {"train_sizes": QUICK_TRAIN_SIZES, "seeds": QUICK_SEEDS, "quick": True}
                if args.quick
                else {}
            ),
        )
        t = time.perf_counter()
        evaluate(spec)
        print(
            f"eval {args.predictors} ({'quick' if args.quick else 'default'}): {time.perf_counter() - t:.1f} s"
        )


if __name__ == "__main__":
    main()
