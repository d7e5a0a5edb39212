"""Benchmarks by name: ``nb201`` (built on first use and cached) or the path of any nasscout HDF5 file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from surrogate.atomic import clean_stale_temps
from surrogate.errors import DataError, NasscoutError
from surrogate.sources import benchmark_cache
from surrogate.tabular import TabularBenchmark

BENCHMARKS = {
    "nb201": "NAS-Bench-201: 15,625 cells x cifar10, cifar100, ImageNet16-120; 12 and 200 epochs",
    "nats-tss": "NATS-Bench topology archive with per-epoch curves (`nasscout data import nats-tss PATH`)",
}
_OPEN: dict[str, TabularBenchmark] = {}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def open_cached(
    name: str,
    hint: str,
    build: Callable[[Path], object] | None = None,
    *,
    rebuild: bool = False,
) -> TabularBenchmark:
    """A cached benchmark by name, repaired where it can be: the one open path for every cache file.

    Temp files of killed builds are removed; a missing, damaged or unreadable file is rebuilt when
    ``build`` can make it (logged on stderr), else the error is one line ending in ``hint``, the command
    that fixes it. A folder in the file's place is never deleted: the line says to move it away.
    """
    path = benchmark_cache(name)
    clean_stale_temps(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a benchmark file; move it away, then {hint}")
    if build is not None and (rebuild or not path.exists()):
        _log(f"nasscout: building the {name} benchmark into {path} (once, a few seconds)")
        build(path)
    try:
        return TabularBenchmark.open(path, rebuild_hint="" if build else hint)
    except DataError as exc:
        if build is None:
            raise
        _log(f"nasscout: {exc}; rebuilding it now")
        build(path)
        return TabularBenchmark.open(path, rebuild_hint=hint)


def open_nb201(*, rebuild: bool = False) -> TabularBenchmark:
    """The NB201 table from the cache, built first when missing and rebuilt when damaged."""
    from surrogate.build_nb201 import build_nb201

    return open_cached(
        "nb201", "rebuild it with `nasscout data build nb201`", build_nb201, rebuild=rebuild
    )


def load_benchmark(name: str) -> TabularBenchmark:
    """A benchmark by registry name or file path (opened once per process)."""
    if name in _OPEN:
        return _OPEN[name]
    if name == "nb201":
        bench = open_nb201()
    elif name.startswith("train:"):  # real training (torch imported only when a cell is trained)
        from surrogate.training.benchmark import open_training_benchmark

        bench = open_training_benchmark(name)
    elif name.endswith((".h5", ".hdf5")) or Path(name).is_file():
        bench = TabularBenchmark.open(
            name, rebuild_hint="rebuild it with the command that made it (see its README)"
        )
    elif benchmark_cache(name).exists():  # e.g. 'nats-tss' after `nasscout data import nats-tss`
        bench = open_cached(name, f"re-import it (`nasscout data import {name} PATH`)")
    else:
        accepted = ", ".join(n for n in BENCHMARKS if n == "nb201" or benchmark_cache(n).exists())
        raise NasscoutError(
            f"unknown benchmark {name!r}; accepted: {accepted}, or a path to a .h5 file"
        )
    _OPEN[name] = bench
    return bench
