"""Weight-sharing searches against real training: for each one-shot method and seed, the chosen cell's REAL
Fashion-MNIST accuracy (our full runs, ``datasets/nb201-fmnist-mini.h5``, cpu-mini's 20-epoch recipe), its rank
among those cells, and the search's measured cost, next to ``rea`` and ``bo-gp`` run on the same table with the
same training budget in simulated seconds. With ``--cells table`` (default) the one-shot methods pick among
the table's cells too, so all of them choose from the same 200 cells.

    nice -n 10 .venv/bin/python benchmarks/bench_oneshot_search.py [--methods rsws,enas] [--seeds 0,1,2]
        [--budget-epochs 30] [--cells table|all] [--table-budgets 400] [--work /tmp/oneshot-bench]
        [--out benchmarks/figures/oneshot_search.json]

Each search runs as its own ``nasscout oneshot search`` process (one torch thread), one at a time; its cost is
the search's own measured seconds (result.json ``train_seconds``: wall time of the epochs, scoring included)
and the process's CPU seconds (a machine shared with other jobs stretches the first, not the second). A
finished search folder in ``--work`` is reused, a killed one resumed. The table strategies get, per seed, the
budget of the one-shot search with that seed (mean over methods), so both sides spend the same training
seconds; their result is the incumbent (best observed validation accuracy) when the budget runs out (none when
no training finished within it). ``--table-budgets`` adds runs of them at fixed budgets, e.g. the CPU cost of a
default 100-epoch search.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "datasets" / "nb201-fmnist-mini.h5"


def run_search(method: str, seed: int, budget: int, work: Path, cells: str) -> dict:
    out = work / f"{method}-s{seed}-e{budget}-{cells}"
    if (out / "result.json").exists():
        res = json.loads((out / "result.json").read_text())
        extra = out / "bench.json"
        res["cpu_seconds"] = (
            json.loads(extra.read_text())["cpu_seconds"] if extra.exists() else None
        )
        return res
    cmd = [
        sys.executable, "-m", "strategies.cli.main", "oneshot", "search", "--method", method,
        "--dataset", "fashion-mnist", "--preset", "cpu-mini", "--budget-epochs", str(budget),
        "--seed", str(seed), "--out", str(out), "--cells", cells,
    ]  # fmt: skip
    if (out / "meta.json").exists():
        cmd.append("--resume")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads((out / "result.json").read_text())
    res["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res["process_wall_seconds"] = wall
    (out / "bench.json").write_text(json.dumps({"cpu_seconds": res["cpu_seconds"], "wall": wall}))
    return res


def table_search(strategy: str, seed: int, budget_s: float) -> dict:
    """``strategy`` on our Fashion-MNIST table for ``budget_s`` simulated seconds: the incumbent's truth."""
    from strategies.runner import Runner
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(TABLE)
    cells = np.asarray(bench.cells_for("fashion-mnist"))
    rec = bench.query(cells, dataset="fashion-mnist", seed="mean")
    traj = Runner(bench, dataset="fashion-mnist", seed=seed, budget_seconds=budget_s).run(strategy)
    idx, obs = traj.column("index"), traj.column("observed_acc")
    if not len(idx):  # no training finished within the budget: nothing chosen
        return {
            "cell": None,
            "test_acc": None,
            "valid_acc": None,
            "test_rank": None,
            "evaluations": 0,
        }
    best = int(idx[int(np.nanargmax(obs))])
    pos = int(np.flatnonzero(cells == best)[0])
    test = float(rec.test_acc[pos])
    return {
        "cell": best,
        "test_acc": test,
        "valid_acc": float(rec.valid_acc[pos]),
        "test_rank": int(np.sum(rec.test_acc > test)) + 1,
        "evaluations": len(traj),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default=None, help="default: every available method")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget-epochs", type=int, default=30)
    ap.add_argument(
        "--cells",
        default="table",
        help="table: pick among our full-run cells, as rea/bo-gp do; all",
    )
    ap.add_argument(
        "--table-budgets",
        default="",
        help="extra simulated-seconds budgets for rea/bo-gp, comma-separated (e.g. a default search's cost)",
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/oneshot-bench"))
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "figures" / "oneshot_search.json"
    )
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    from strategies.oneshot import available_methods

    methods = args.methods.split(",") if args.methods else available_methods()
    seeds = [int(s) for s in args.seeds.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for method in methods:
        for seed in seeds:
            res = run_search(method, seed, args.budget_epochs, args.work, args.cells)
            real = res.get("real", {})
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    "cell": res["chosen"][0]["cell"],
                    "inherited_valid_acc": res["chosen"][0]["inherited_valid_acc"],
                    "real_source": real.get("source"),
                    "test_acc": real.get("test_acc"),
                    "valid_acc": real.get("valid_acc"),
                    "test_rank": real.get("test_rank"),
                    "n_cells": real.get("n_cells"),
                    "search_seconds": res["train_seconds"],
                    "cpu_seconds": res.get("cpu_seconds"),
                    "search_cpu_seconds": res.get("train_cpu_seconds"),
                    "real_train_seconds": real.get("train_time_s", 0.0),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    searches = list(rows)
    extra = [float(b) for b in args.table_budgets.split(",") if b.strip()]
    for strategy in ("rea", "bo-gp"):
        for label, fixed in [("", None)] + [(f"@{b:.0f}s", b) for b in extra]:
            for seed in seeds:
                # the searches' CPU seconds (their wall seconds are stretched by other jobs here)
                budget = fixed or float(
                    np.mean(
                        [
                            r["cpu_seconds"] or r["search_seconds"]
                            for r in searches
                            if r["seed"] == seed
                        ]
                    )
                )
                t = table_search(strategy, seed, budget)
                rows.append(
                    {
                        "method": strategy + label,
                        "seed": seed,
                        **t,
                        "search_seconds": budget,
                        "cpu_seconds": None,
                        "n_cells": None,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        got = [r for r in rs if r["test_acc"] is not None]
        summary[m] = {
            "chose_a_cell": len(got),
            "test_acc_mean": float(np.mean([r["test_acc"] for r in got])) if got else None,
            "test_rank_mean": float(np.mean([r["test_rank"] for r in got])) if got else None,
            "search_seconds_mean": float(np.mean([r["search_seconds"] for r in rs])),
            "cpu_seconds_mean": (
                float(np.mean([r["cpu_seconds"] for r in rs if r.get("cpu_seconds")]))
                if any(r.get("cpu_seconds") for r in rs)
                else None
            ),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "budget_epochs": args.budget_epochs,
        "cells": args.cells,
        "seeds": seeds,
        "rows": rows,
        "summary": summary,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n| method | seeds | chosen cells' test acc (%) | rank of 200 | wall s | CPU s |")
    print("|---|---|---|---|---|---|")
    for m, s in summary.items():
        rs = [r for r in rows if r["method"] == m]
        accs = ", ".join("none" if r["test_acc"] is None else f"{r['test_acc']:.2f}" for r in rs)
        ranks = ", ".join(str(r["test_rank"]) for r in rs)
        mean = "" if s["test_acc_mean"] is None else f" (mean {s['test_acc_mean']:.2f})"
        cpu = "" if s["cpu_seconds_mean"] is None else f"{s['cpu_seconds_mean']:.0f}"
        print(
            f"| {m} | {len(rs)} | {accs}{mean} | {ranks} | {s['search_seconds_mean']:.0f} | {cpu} |"
        )


if __name__ == "__main__":
    main()
