"""Search quality and speed of the strategies on every space: mean regret at 50/100/200 queries, time per search.

Runs ``nasscout run`` (with this checkout on the path) and ``nasscout report --json`` for each
benchmark:dataset, then prints one markdown table. Time per search is the wall time of one (strategy, seed)
search as results.csv records it (the last evaluation's ``wall_time_s``), averaged over seeds.

    .venv/bin/python benchmarks/bench_strategies_spaces.py --out /tmp/spaces \
        --runs transnas-micro:class_object,nasbench-graph:cora [--strategies rs,rea,ls,bo-gp,bananas,pnas]
        [--seeds 20] [--budget 200] [--jobs 2] [--observe seed]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def nasscout(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "strategies.cli.main", *args]
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def search_seconds(results: Path) -> dict[str, float]:
    """Mean wall seconds per search (strategy, seed), from the last wall_time_s of each search."""
    last: dict[tuple[str, str], float] = {}
    with results.open() as fh:
        for row in csv.DictReader(fh):
            key = (row["strategy"], row["seed"])
            last[key] = max(last.get(key, 0.0), float(row["wall_time_s"] or 0.0))
    per: dict[str, list[float]] = defaultdict(list)
    for (strategy, _), t in last.items():
        per[strategy].append(t)
    return {s: sum(v) / len(v) for s, v in per.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", default="transnas-micro:class_object,nasbench-graph:cora")
    ap.add_argument("--strategies", default="rs,rea,ls,bo-gp,bananas,pnas")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--observe", default=None, help="seed|mean (default: the CLI's)")
    args = ap.parse_args()
    print("| benchmark | dataset | strategy | regret@50 | regret@100 | regret@200 | s/search |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs.split(","):
        bench, _, dataset = run.partition(":")
        out = args.out / f"{bench}-{dataset}"
        if not (out / "results.csv").exists():
            extra = ["--observe", args.observe] if args.observe else []
            nasscout(
                "run", "--benchmark", bench, "--dataset", dataset, "--strategy", args.strategies,
                "--seeds", str(args.seeds), "--budget-queries", str(args.budget),
                "--jobs", str(args.jobs), "--out", str(out), "-q", *extra,
            )  # fmt: skip
        report = json.loads(nasscout("report", str(out), "--json", "--no-plots"))
        secs = search_seconds(out / "results.csv")
        for strategy, r in report.items():
            if not isinstance(r, dict) or "regret_mean_at_50" not in r:
                continue
            at = [r.get(f"regret_mean_at_{q}") for q in (50, 100, 200)]
            cells = " | ".join("–" if v is None else f"{v:.3f}" for v in at)
            print(f"| {bench} | {dataset} | {strategy} | {cells} | {secs.get(strategy, 0):.2f} |")


if __name__ == "__main__":
    main()
