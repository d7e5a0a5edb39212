"""How long does ``nasscout supernet score FILE --cells all`` take? Seconds per scored cell under several
scoring settings, and the projected time for every NB201 cell (15,625) and for one per isomorphism class
(6,466, the default), on one thread.

    nice -n 10 .venv/bin/python benchmarks/bench_supernet_score.py --supernet FILE [--cells 24]

Cells are a fixed random sample of class representatives; each setting scores them once, without the cache
(``score_cells``), after one warm-up cell. Wall seconds and process-CPU seconds are both printed: on a shared
machine the CPU figure is the one to project from.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SETTINGS = [(4, None), (4, 500), (1, 500), (0, 500)]


def main() -> None:
    from surrogate.spaces.nb201 import NB201Space
    from surrogate.training.supernet_score import ScoreSettings, score_cells
    from surrogate.training.supernet_train import load_shared_weights

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supernet", required=True)
    ap.add_argument("--cells", type=int, default=24)
    args = ap.parse_args()
    space = NB201Space()
    reps = np.unique(space.canonical_indices(space.all_indices))
    cells = np.random.default_rng(0).choice(reps, args.cells, replace=False)
    sw, h = load_shared_weights(args.supernet)
    n_valid = len(sw.splits.valid_x)
    print(
        f"{args.supernet}: preset {h['preset']['name']} (C={h['preset']['C']}, N={h['preset']['N']}), "
        f"{n_valid} validation images, batch {sw.preset.batch_size}; {args.cells} cells per setting"
    )
    print(
        "| recal batches | eval images | wall s/cell | CPU s/cell | all 15,625 cells (CPU) | 6,466 classes (CPU) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for recal, images in SETTINGS:
        settings = ScoreSettings(recal_batches=recal, eval_images=images, per_class=False)
        score_cells(sw, cells[:1], settings)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        score_cells(sw, cells, settings)
        wall = (time.perf_counter() - t0) / len(cells)
        cpu = (time.process_time() - c0) / len(cells)
        print(
            f"| {recal} | {images or n_valid} | {wall:.3f} | {cpu:.3f} | {cpu * 15625 / 60:.0f} min | "
            f"{cpu * len(reps) / 60:.0f} min |",
            flush=True,
        )


if __name__ == "__main__":
    main()
