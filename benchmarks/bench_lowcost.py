"""Training cost of ``lowcost`` against full-training rea, rs, bo-gp and hyperband (issue 12, item 4).

For each ``benchmark:dataset`` the budget S is the simulated time of ``--trainings`` (200) average full
trainings of that dataset. The baselines run side by side in one ``nasscout run`` with ``--budget-seconds S``;
``lowcost`` runs with ``--budget-seconds S/10`` (the claim: REA's final regret at a tenth of its training
cost), without and with a prior from another dataset's table (``--option lowcost.prior=D``), unless
``--lowcost-full`` gives it S too (as it gets on a benchmark with one fidelity, e.g. NAS-Bench-Graph). Every run uses ``--jobs 1`` and the default ``--observe seed``.

Printed per strategy (from ``nasscout report --json`` and results.csv): the lower median over seeds of the
training seconds charged until the incumbent's validation regret is <= 0.3 / <= 0.1 (``-``: fewer than half
of the seeds get there within the budget), the mean final regret, the mean regret when S/10 seconds had been
charged (``@S/10``), and the mean seconds charged in all.

    nice -n 10 .venv/bin/python benchmarks/bench_lowcost.py --out /tmp/lowcost --seeds 50 \
        --runs nb201:cifar10:cifar100,nb201:cifar100:cifar10,nb201:ImageNet16-120:cifar100,nasbench-graph:arxiv:computers
    .venv/bin/python benchmarks/bench_lowcost.py --overheads     # the constants lowcost charges

Each run entry is ``benchmark:dataset:prior`` (the prior dataset of ``lowcost+prior``; empty: no such run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASELINES = "rs,rea,bo-gp,hyperband"


def nasscout(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "strategies.cli.main", *args]
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def run(
    out: Path, bench: str, dataset: str, strategies: str, seconds: float, seeds: int, *opt: str
):
    if not (out / "results.csv").exists():
        args = ["run", "--benchmark", bench, "--dataset", dataset, "--strategy", strategies]
        args += [
            "--budget-seconds",
            f"{seconds:.0f}",
            "--budget-queries",
            "3000",
            "--seeds",
            str(seeds),
        ]
        args += ["--jobs", "1", "-q", "--out", str(out), *opt]
        nasscout(*args)
    return json.loads(nasscout("report", str(out), "--json", "--no-plots"))


def regret_at_cost(results: Path, best: float, top: int, cap: float) -> dict[str, float]:
    """Mean over seeds of the incumbent's regret once ``cap`` seconds had been charged."""
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    with results.open() as fh:
        for r in csv.DictReader(fh):
            rows[(r["strategy"], r["seed"])].append(r)
    per: dict[str, list[float]] = defaultdict(list)
    for (strategy, _), rs in rows.items():
        rs.sort(key=lambda r: float(r["sim_time_s"]))
        spent, inc_obs, inc_true = 0.0, -np.inf, np.nan
        for r in rs:
            spent += float(r["cost_s"])
            if spent > cap:
                break
            obs = float(r["observed_acc"] or "nan")
            stopped = int(float(r.get("stopped_at") or 0))
            if int(r["fidelity"]) == top and not stopped and obs > inc_obs:
                inc_obs, inc_true = obs, float(r["true_acc"])
        per[strategy].append(best - inc_true)
    return {s: float(np.mean(v)) for s, v in per.items()}


def fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:,.{digits}f}"


def measure_overheads() -> None:
    """The constants lowcost charges: zen's recorded time per cell, and a warm GP refit's wall time."""
    import zipfile

    from predictors.registry import make_predictor
    from surrogate.registry import load_benchmark

    data = Path(os.environ.get("NASSCOUT_DATA_SOURCES") or ROOT.parent / "shared" / "data")
    times: dict[str, list[float]] = defaultdict(list)
    with zipfile.ZipFile(data / "nb201" / "naslib_nb201_zen.zip") as z:
        for name in z.namelist():
            if name.endswith(".json"):
                for r in json.loads(z.read(name)):
                    times[name.split("--")[2]].append(r["zen"]["time"])
    for ds, t in sorted(times.items()):
        print(f"zen recorded time per cell, {ds}: median {np.median(t):.3f} s over {len(t)} cells")
    b = load_benchmark("nb201")
    rng = np.random.default_rng(0)
    gp = make_predictor("gp", seed=0, space=b.space, warm_start=True, n_restarts=0, max_iter=50,
                        warm_iter=5)  # fmt: skip
    cells = rng.choice(b.cells, 60, replace=False)
    y = b.query(cells, dataset="cifar10", seed="mean").valid_acc
    spent = []
    for n in range(10, 61, 5):
        t0 = time.perf_counter()
        gp.fit(cells[:n], y[:n])
        spent.append(time.perf_counter() - t0)
    print(
        f"GP fits on 10..60 cells: first (cold) {spent[0]:.3f} s, warm refits median "
        f"{np.median(spent[1:]):.3f} s, max {max(spent[1:]):.3f} s; sum of all {len(spent)}: {sum(spent):.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--runs", default="nb201:cifar10:cifar100")
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--trainings", type=int, default=200)
    ap.add_argument(
        "--lowcost-full", action="store_true", help="give lowcost the baselines' budget S"
    )
    ap.add_argument(
        "--one-run",
        action="store_true",
        help="all strategies side by side in one run with budget S (one report, one regret_vs_cost.png)",
    )
    ap.add_argument("--overheads", action="store_true", help="print the charged constants and exit")
    args = ap.parse_args()
    if args.overheads:
        measure_overheads()
        return
    from surrogate.registry import load_benchmark

    print("| benchmark | dataset | strategy | budget s | cost to regret <= 0.3 | cost to <= 0.1 | "
          "final regret (± 95% CI) | regret @S/10 | charged s (mean) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for entry in args.runs.split(","):
        bench, dataset, prior = (entry.split(":") + ["", ""])[:3]
        b = load_benchmark(bench)
        ds = b.dataset(dataset)
        top = max(b.fidelities_for(ds))
        cost = np.nanmean(b.cost(b.cells_for(ds), dataset=ds, fidelity=top))
        full = args.trainings * float(cost)
        tenth = full / 10
        two = len(b.fidelities_for(ds)) > 1
        base = BASELINES if two else BASELINES.replace(",hyperband", "")
        # without a cheaper fidelity a tenth of the budget is ~20 trainings: lowcost gets S there too
        lc_budget = full if args.lowcost_full or not two else tenth
        plan = [(f"{bench}-{ds}-baselines", base, full, ())]
        plan.append((f"{bench}-{ds}-lowcost", "lowcost", lc_budget, ()))
        if args.one_run:
            plan = [(f"{bench}-{ds}-all", base + ",lowcost", full, ())]
        elif prior:
            plan.append((f"{bench}-{ds}-lowcost-prior-{prior}", "lowcost", lc_budget,
                         ("--option", f"lowcost.prior={prior}")))  # fmt: skip
        best = float(b.best(ds)[1])
        for name, strategies, seconds, opt in plan:
            out = args.out / name
            try:
                rep = run(out, bench, ds, strategies, seconds, args.seeds, *opt)
            except subprocess.CalledProcessError as exc:
                print(f"| {bench} | {ds} | {strategies} | {seconds:,.0f} | failed: "
                      f"{(exc.stderr or '').strip()[-160:]} | | | | |", flush=True)  # fmt: skip
                continue
            at = regret_at_cost(out / "results.csv", best, top, tenth)
            for s in strategies.split(","):
                r = rep[s]
                label = f"lowcost (prior {prior})" if opt else s
                final = f"{fmt(r['regret_mean_final'], 3)} ± {fmt(r['regret_ci95_final'], 3)}"
                print(f"| {bench} | {ds} | {label} | {seconds:,.0f} | "
                      f"{fmt(r['median_cost_s_to_regret_0.3'])} | {fmt(r['median_cost_s_to_regret_0.1'])} | "
                      f"{final} | {fmt(at.get(s), 3)} | {fmt(r['cost_s_mean_final'])} |", flush=True)  # fmt: skip
        if not two:
            print(f"| {bench} | {ds} | hyperband | - | refused: one fidelity | | | | |")


if __name__ == "__main__":
    main()
