"""CARS and first-order DARTS on the Fashion-MNIST cpu-mini supernet: the seconds a search uses, the cell(s)
it chooses, and their real accuracy and rank among the cells of our full-run table.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_cars_darts.py [--methods cars,darts,darts:arch_lr=0.003] \\
        [--cars-epochs 30] [--darts-epochs 12] [--seed 0] [--table datasets/nb201-fmnist-mini.h5] \\
        [--train-missing N] [--json OUT.json]

The budget is meant to be near the weight-sharing issue's scale, the cost of fully training 5 cells
(a cpu-mini run is 20 epochs, about 36 s of CPU time idle, so about 180 s): a single-path supernet epoch over
the 5,000 training images is about 2.5 s, CARS adds the scoring of about 3 x pop_size cells per epoch, and a
DARTS epoch runs all 4 non-zero ops of every edge twice (the alpha step and the weight step). One thread; the
same loop the driver runs (SharedWeights(epochs=E) and ``run_epoch`` per epoch). "cpu s" is this process's CPU
time, "wall s" the elapsed time (other processes share the machine). The real accuracy is the mean validation
accuracy after 20 epochs in the table (over its seeds); rank 1 is the table's best of its cells; a chosen cell
that is not in the table is reported as such, or with ``--train-missing N`` trained now (cpu-mini, seed 0,
as the table's runs; up to N cells per method, after the search, so not in its seconds).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def real_lookup(table: str) -> tuple[dict[int, float], int]:
    """Cell -> mean validation accuracy of the full-run table, and how many cells it holds."""
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(table)
    ds = bench.datasets[0]
    cells = bench.cells_for(ds)
    acc = bench.query(cells, dataset=ds).valid_acc
    return {int(c): float(a) for c, a in zip(cells, acc)}, len(cells)


def option(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON when it is JSON (numbers, true/false), else as a string."""
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def rank_of(acc: float, table: dict[int, float]) -> int:
    return 1 + int(sum(a > acc for a in table.values()))


def train_now(cell: int, seed: int) -> float:
    """Real validation accuracy of a cell outside the table: one cpu-mini run, as the table's were made."""
    from surrogate.training.presets import get_preset
    from surrogate.training.trainer import RunSpec, train_run

    spec = RunSpec("fashion-mnist", get_preset("cpu-mini"), cell, seed=seed, device="cpu")
    return float(train_run(spec)["valid_acc"])


def run(method: str, epochs: int, seed: int, options: dict) -> dict:
    import torch

    from strategies.oneshot.cars import CARS
    from strategies.oneshot.darts import DARTS
    from surrogate.training.presets import get_preset
    from surrogate.training.supernet import SharedWeights

    torch.set_num_threads(1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sw = SharedWeights("fashion-mnist", get_preset("cpu-mini"), seed=seed, epochs=epochs)
    cls = {"cars": CARS, "darts": DARTS}[method]
    m = cls(sw, seed=seed, **options)
    rows = [m.run_epoch(e, epochs) for e in range(epochs)]
    out = m.result()
    return {
        "method": method,
        "epochs": epochs,
        "seed": seed,
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
        "chosen": out.chosen,
        "scores": out.scores,
        "extra": out.extra,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--methods", default="cars,darts", help="comma-separated METHOD[:KEY=VALUE[;KEY=VALUE]]"
    )
    ap.add_argument("--cars-epochs", type=int, default=30)
    ap.add_argument("--darts-epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", default="datasets/nb201-fmnist-mini.h5")
    ap.add_argument(
        "--train-missing",
        type=int,
        default=0,
        help="train up to this many chosen cells per method that the table lacks (cpu-mini, seed 0)",
    )
    ap.add_argument("--json", default=None, help="write every result (curves included) here")
    args = ap.parse_args()
    from surrogate.spaces.nb201 import NB201Space

    space = NB201Space()
    table, n_table = real_lookup(args.table)
    best_real = max(table.values())
    results = []
    for entry in args.methods.split(","):
        method, _, opts = entry.partition(":")
        options = dict(option(kv) for kv in opts.split(";") if kv)
        epochs = args.cars_epochs if method == "cars" else args.darts_epochs
        res = run(method, epochs, args.seed, options)
        results.append(res)
        print(
            f"\n{method} {options or 'defaults'}: {epochs} epochs, seed {args.seed}: "
            f"{res['cpu_s']:.0f} cpu s, {res['wall_s']:.0f} wall s"
        )
        print(f"{'cell':>6}  {'supernet %':>10}  {'real %':>7}  {'rank':>9}  arch")
        trained = 0
        res["real"] = {}
        for cell, score in zip(res["chosen"], res["scores"]):
            real, mark = table.get(cell), " "
            if real is None and trained < args.train_missing:
                real, mark = train_now(cell, 0), "*"
                trained += 1
            if real is not None:
                res["real"][cell] = real
            where = (
                f"{real:7.2f}{mark} {rank_of(real, table):>4}/{n_table}"
                if real is not None
                else f"{'-':>7}  {'not in':>9}"
            )
            print(f"{cell:>6}  {score:10.2f}  {where}  {space.format(cell)}")
        if method == "darts":
            last = res["rows"][-1]
            probs = {k: round(v, 3) for k, v in last.items() if k.startswith("p_")}
            counts = {k: v for k, v in last.items() if k.startswith("n_")}
            print(f"  final mean softmax per op: {probs}; argmax op counts: {counts}")
            print(
                f"  argmax with none: {res['extra']['cell_with_none']}, without none: "
                f"{res['extra']['cell_without_none']}"
            )
        else:
            ex = res["extra"]
            print(
                f"  {ex['generations']} generations after {ex['warmup_epochs']} warm-up epochs; "
                f"front params (M): {[round(p, 4) for p in ex['params_m']]}"
            )
            in_table = [table[c] for c in ex["population"] if c in table]
            if in_table:
                print(
                    f"  final population: {len(ex['population'])} cells, {len(in_table)} in the table, "
                    f"their mean real accuracy {np.mean(in_table):.2f} %"
                )
    print(
        f"\ntable: {n_table} cells, best real accuracy {best_real:.2f} %, median "
        f"{np.median(list(table.values())):.2f} %"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
