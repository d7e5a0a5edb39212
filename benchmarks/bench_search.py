"""What reading a curve mid-training costs: one cell trained straight vs in segments (``nasscout search``'s way).

Each segment is a separate task on a worker process: it reopens the store, loads the checkpoint (model,
optimiser, RNG states) and continues. This prints the wall seconds of both ways and of the search's
screening (one ``lowcost`` ask with the params/flops/prior screen), so the overhead of early-stopping
checkpoints can be weighed against the epochs they save.

    python benchmarks/bench_search.py [--cell 1000] [--epochs 20] [--segments 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _pool() -> ProcessPoolExecutor:
    import multiprocessing

    from surrogate.training.executors import _init_worker

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "surrogate.training.trainer"])
    return ProcessPoolExecutor(
        max_workers=1, mp_context=ctx, initializer=_init_worker, initargs=(1,)
    )


def _train(pool: ProcessPoolExecutor, store: Path, cell: int, stops: list[int | None]) -> float:
    from surrogate.training.executors import run_segment

    t0 = time.perf_counter()
    for stop in stops:
        r = pool.submit(run_segment, str(store), cell, 0, stop, "cpu", 1).result()
    assert r["status"] == "ok"
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from surrogate.training.presets import get_preset
    from surrogate.training.runstore import RunStore

    preset = get_preset("cpu-mini", epochs=args.epochs)
    step = args.epochs // args.segments
    stops: list[int | None] = [step * (i + 1) for i in range(args.segments - 1)] + [None]
    with _pool() as pool:
        pool.submit(time.sleep, 0).result()  # start the worker before timing
        for rep in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                a, b = Path(tmp) / "a.h5", Path(tmp) / "b.h5"
                RunStore(a, "fashion-mnist", preset)
                RunStore(b, "fashion-mnist", preset)
                straight = _train(pool, a, args.cell, [None])
                segmented = _train(pool, b, args.cell, stops)
            print(
                f"repeat {rep}: cell {args.cell}, {args.epochs} epochs: straight {straight:.1f} s, "
                f"{args.segments} segments {segmented:.1f} s (overhead {segmented - straight:+.1f} s, "
                f"{100 * (segmented / straight - 1):+.1f}%)"
            )
    from strategies.base import SearchContext
    from strategies.lowcost import LowCost
    from strategies.search.options import SearchOptions, check_options
    from strategies.search.screen import screen_tables
    from surrogate.spaces.nb201 import NB201Space

    opts = check_options(SearchOptions(dataset="fashion-mnist", budget_epochs=400))
    space = NB201Space()
    t0 = time.perf_counter()
    tables = screen_tables(opts.dataset, opts.training_preset(), opts.prior, space)
    t_tables = time.perf_counter() - t0
    lc = LowCost(space, seed=0, context=SearchContext(fidelities=(20,), dataset=opts.dataset))
    lc.set_screen_tables(tables[0], tables[1], 0.0, tables[2])
    t0 = time.perf_counter()
    lc.ask()
    print(
        f"screen: tables (params, flops, prior {opts.prior}) {t_tables:.2f} s once; first ask "
        f"{time.perf_counter() - t0:.3f} s ({lc.n_screened} candidates scored)"
    )


if __name__ == "__main__":
    main()
