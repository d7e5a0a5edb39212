"""REA speed: `nasscout run` (runner + journal + results.csv) against a plain numpy REA loop on the same data.

The issue's target: REA, 100 seeds x 200 queries on NB201 CIFAR-10, within 3x the wall time of a plain loop,
data loading included. Both sides run in a fresh Python process, timed from outside (start-up, imports and
loading included); the plain loop reads the same HDF5 arrays with h5py and keeps everything in numpy arrays
and Python lists, with no journal and no output file. Also prints the in-process runner time (benchmark
already loaded, no journal) and the cProfile top functions of the runner with --profile.

    .venv/bin/python benchmarks/bench_rea.py [--seeds 100] [--queries 200] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

PLAIN = textwrap.dedent(
    """
    import sys, time
    import h5py, numpy as np
    from surrogate.sources import benchmark_cache
    seeds, budget = int(sys.argv[1]), int(sys.argv[2])
    with h5py.File(benchmark_cache("nb201"), "r") as f:
        valid = f["cifar10/fid_200/valid_acc"][()].astype(np.float64)     # (15625, 3), NaN = missing seed
    order = np.load(%(order)r).astype(np.int64)                           # official index -> op code
    pow5 = 5 ** np.arange(5, -1, -1)
    ops = (order[:, None] // pow5) %% 5                                   # (15625, 6) op ids
    code_to_index = np.empty(15625, np.int64); code_to_index[order] = np.arange(15625)
    mean = np.nanmean(valid, axis=1)
    present = [row[~np.isnan(row)].tolist() for row in valid]            # recorded seeds per cell
    best = np.nanmax(mean)
    regret = np.empty((seeds, budget))
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pop, score = [], []
        hist_idx, hist_obs = [], []
        for q in range(budget):
            if q < 30:
                cell = int(rng.integers(15625))
            else:
                picks = rng.integers(len(pop), size=10)
                parent = pop[max(picks.tolist(), key=score.__getitem__)]
                child = ops[parent].copy()
                edge = rng.integers(6)
                child[edge] = (child[edge] + 1 + rng.integers(4)) %% 5
                cell = int(code_to_index[child @ pow5])
            draws = present[cell]
            obs = draws[int(rng.random() * len(draws))]
            pop.append(cell); score.append(obs)
            if len(pop) > 30:
                del pop[0]; del score[0]
            hist_idx.append(cell); hist_obs.append(obs)
        o = np.array(hist_obs)
        run_max = np.maximum.accumulate(o)
        inc = np.maximum.accumulate(np.where(np.r_[True, o[1:] > run_max[:-1]], np.arange(budget), 0))
        regret[seed] = best - mean[np.array(hist_idx)[inc]]
    print(f"plain REA: regret@100 {regret[:, 99].mean():.3f}  @200 {regret[:, -1].mean():.3f}")
    """
)


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds user+sys, output) of a child process: CPU time is the fair figure on a
    loaded machine, wall time the one a user sees."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, (out.stdout + out.stderr).strip()


def in_process(seeds: int, queries: int, profile: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from strategies.runner import Runner
    from surrogate.registry import load_benchmark

    bench = load_benchmark("nb201")
    Runner(bench, dataset="cifar10", seed=0, budget_queries=queries).run("rea")  # warm the lookup

    def go() -> None:
        for s in range(seeds):
            Runner(bench, dataset="cifar10", seed=s, budget_queries=queries).run("rea")

    t = time.perf_counter()
    go()
    dt = time.perf_counter() - t
    n = seeds * queries
    print(f"in-process Runner (no journal): {dt:.2f} s = {dt / n * 1e6:.1f} us per query")
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(go)
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    order = str(ROOT / "surrogate" / "data" / "nb201_order.npy")
    plain_src = PLAIN % {"order": order}
    nasscout = str(Path(PY).parent / "nasscout")
    plain_t, ours_t = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            *dt, msg = timed([PY, "-c", plain_src, str(args.seeds), str(args.queries)], ROOT)
            plain_t.append(dt)
            out = Path(tmp) / f"run{r}"
            cmd = [nasscout, "run", "--strategy", "rea", "--seeds", str(args.seeds), "--budget-queries",
                   str(args.queries), "--jobs", "1", "--quiet", "--out", str(out)]  # fmt: skip
            *dt2, _ = timed(cmd, ROOT)
            ours_t.append(dt2)
            shutil.rmtree(out)
        print(msg)
    (pw, pc), (ow, oc) = min(plain_t), min(ours_t)
    print(f"REA {args.seeds} seeds x {args.queries} queries, NB201 cifar10, best of {args.repeat}:")
    print(f"  plain numpy loop (fresh process, loading included): {pw:.2f} s wall, {pc:.2f} s CPU")
    print(
        f"  nasscout run --jobs 1 (fresh process, journal + results.csv): {ow:.2f} s wall, {oc:.2f} s CPU"
    )
    print(f"  ratio: {ow / pw:.2f}x wall, {oc / pc:.2f}x CPU (target <= 3x)")
    in_process(args.seeds, args.queries, args.profile)


if __name__ == "__main__":
    main()
