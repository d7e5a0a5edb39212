"""Build a full-runs benchmark: train a list of cells x seeds into a run store, consolidating as it goes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.training.executors import train_many
from surrogate.training.presets import Preset
from surrogate.training.runstore import RunStore

CONSOLIDATE_EVERY_S = 300.0


def build_fullruns(
    store_path: str | os.PathLike,
    *,
    dataset: str,
    preset: Preset,
    cells: np.ndarray,
    seeds: tuple[int, ...] = (0,),
    workers: int = 1,
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
    device: str = "auto",
    on_result: Callable[[dict[str, Any], int, int], None] | None = None,
    on_ready: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train every (cell, seed) not yet in the store; resumable (rerun the same call to continue).

    The store file is rewritten every few minutes and at the end, so an interrupted build leaves a usable
    file. ``on_ready(where, done, total)`` is called once workers are up, ``on_result(result, done, total)``
    after every run.
    """
    store = RunStore(store_path, dataset, preset)
    have = store.results()
    tasks = [(int(c), int(s)) for c in cells for s in seeds]
    todo = [t for t in tasks if t not in have]
    done = len(tasks) - len(todo)
    t0 = time.perf_counter()
    last = [time.monotonic()]
    counter = [done]

    def handle(result: dict[str, Any]) -> None:
        counter[0] += 1
        if on_result is not None:
            on_result(result, counter[0], len(tasks))
        if time.monotonic() - last[0] > CONSOLIDATE_EVERY_S:
            store.consolidate()
            last[0] = time.monotonic()

    train_many(
        Path(store_path),
        todo,
        workers=workers,
        dask_local=dask_local,
        dask_scheduler=dask_scheduler,
        device=device,
        on_result=handle,
        on_ready=None if on_ready is None else (lambda where: on_ready(where, done, len(tasks))),
    )
    path = store.consolidate()
    return {
        "store": str(path),
        "runs": len(tasks),
        "trained_now": len(todo),
        "already_done": done,
        "seconds": time.perf_counter() - t0,
    }
