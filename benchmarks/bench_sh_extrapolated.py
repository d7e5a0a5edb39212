"""Successive halving on epochs of one schedule, promoting by the observed value or by an extrapolated final.

    nice -n 10 .venv/bin/python benchmarks/bench_sh_extrapolated.py \\
        [--table datasets/nb201-fmnist-mini.h5] [--rungs 5,20] [--seeds 20] [--budget-queries 60] \\
        [--extrapolators best,last,fast]

``surrogate.epochs.EpochFidelities`` exposes the rungs as fidelities of the table's one schedule; each seed runs
``sh`` with ``promote="observed"`` and with ``promote="extrapolated"`` per extrapolator. Prints the mean (and
standard deviation) of the final regret and of the simulated seconds used, and the wall seconds of the runs.
``last`` (unfitted) ranks exactly as the observed value, a check that the curves reach ``sh`` intact.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NASSCOUT_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default="datasets/nb201-fmnist-mini.h5")
    ap.add_argument("--rungs", default="5,20")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget-queries", type=int, default=60)
    ap.add_argument("--extrapolators", default="best,last,fast")
    args = ap.parse_args(argv)

    import numpy as np

    from strategies.runner import Runner
    from surrogate.epochs import EpochFidelities
    from surrogate.tabular import TabularBenchmark

    rungs = tuple(int(x) for x in args.rungs.split(","))
    view = EpochFidelities(TabularBenchmark.open(args.table), rungs)
    ds = view.datasets[0]
    variants = [("observed", None)] + [
        ("extrapolated", e) for e in args.extrapolators.split(",") if e
    ]
    for promote, ext in variants:
        regret, secs = [], []
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            runner = Runner(view, dataset=ds, seed=seed, budget_queries=args.budget_queries)
            opts = {"promote": promote} | ({"extrapolator": ext} if ext else {})
            traj = runner.run("sh", options=opts)
            regret.append(traj.regret()[-1])
            secs.append(traj.rows[-1].sim_time_s)
        name = f"promote={promote}" + (f" ({ext})" if ext else "")
        print(
            f"sh rungs {','.join(map(str, rungs))} {name:<28} final regret {np.mean(regret):.3f} "
            f"(sd {np.std(regret):.3f})  simulated {np.mean(secs):,.0f} s  wall {time.perf_counter() - t0:.1f} s"
        )


if __name__ == "__main__":
    main()
