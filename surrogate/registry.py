"""Benchmarks by name: ``nb201``, ``transnas-micro``, ``nasbench-graph`` (built on first use and cached) or
the path of any nasscout HDF5 file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from surrogate.atomic import clean_stale_temps
from surrogate.errors import DataError, NasscoutError
from surrogate.plugins import (
    PluginError,
    entry_points_of,
    is_import_path,
    load_entry_point,
    load_import_path,
)
from surrogate.sources import benchmark_cache
from surrogate.tabular import TabularBenchmark

BENCHMARKS = {
    "nb201": "NAS-Bench-201: 15,625 cells x cifar10, cifar100, ImageNet16-120; 12 and 200 epochs",
    "transnas-micro": "TransNAS-Bench-101 micro: 4,096 cells x 7 tasks; validation metric + Zen score",
    "nasbench-graph": "NAS-Bench-Graph: 26,206 GNNs x 9 graph datasets; valid/test accuracy, latency",
    "nats-tss": "NATS-Bench topology archive with per-epoch curves (`nasscout data import nats-tss PATH`)",
}
_OPEN: dict[str, TabularBenchmark] = {}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def builder(name: str) -> Callable[..., Path]:
    """The function that builds a registry benchmark from its public sources (imported lazily)."""
    if name == "nb201":
        from surrogate.build_nb201 import build_nb201

        return build_nb201
    if name == "transnas-micro":
        from surrogate.build_transnas import build_transnas

        return build_transnas
    if name == "nasbench-graph":
        from surrogate.build_nbgraph import build_nbgraph

        return build_nbgraph
    raise NasscoutError(f"unknown benchmark {name!r}; accepted: {', '.join(BUILT)}")


BUILT = ("nb201", "transnas-micro", "nasbench-graph")  # built from public sources on first use


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


def open_built(name: str, *, rebuild: bool = False) -> TabularBenchmark:
    """A built-in table from the cache, built first when missing and rebuilt when damaged."""
    return open_cached(
        name, f"rebuild it with `nasscout data build {name}`", builder(name), rebuild=rebuild
    )


def open_nb201(*, rebuild: bool = False) -> TabularBenchmark:
    """The NB201 table from the cache, built first when missing and rebuilt when corrupt."""
    return open_built("nb201", rebuild=rebuild)


def _plugin_benchmark(name: str) -> TabularBenchmark:
    """A benchmark from an installed ``nasscout.benchmarks`` entry point or an import path: a callable
    without arguments that returns one (or a Benchmark object itself), checked against the contract."""
    from surrogate.benchmark import Benchmark

    eps = entry_points_of("benchmark")
    obj = (
        load_entry_point(eps[name], "benchmark")
        if name in eps
        else load_import_path(name, "benchmark")
    )
    if callable(obj) and not isinstance(obj, Benchmark):
        try:
            obj = obj()
        except NasscoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - the plugin's own failure, in one line
            raise PluginError(
                f"benchmark plugin {name!r} raised {type(exc).__name__}: {str(exc)[:160]}; --debug shows "
                "its traceback"
            ) from exc
    if not isinstance(obj, Benchmark):
        raise PluginError(
            f"benchmark plugin {name!r} gave a {type(obj).__name__}, not a Benchmark; accepted: a callable "
            "returning an object with the surrogate.benchmark.Benchmark protocol (e.g. TabularBenchmark)"
        )
    return obj


def benchmark_plugin_facts(name: str) -> dict | None:
    """Module, version, file and sha256 of the plugin behind benchmark ``name`` (None: not a plugin)."""
    from surrogate.plugins import dist_name, plugin_facts

    if (
        name in BUILT
        or name.startswith(("train:", "surrogate:", "oneshot:"))
        or name.endswith((".h5", ".hdf5"))
    ):
        return None
    eps = entry_points_of("benchmark")
    if name in eps:
        obj, origin = load_entry_point(eps[name], "benchmark"), f"plugin {dist_name(eps[name])}"
    elif is_import_path(name) and not Path(name).is_file():
        obj, origin = load_import_path(name, "benchmark"), "import path"
    else:
        return None
    return plugin_facts(obj if hasattr(obj, "__qualname__") else type(obj), origin).to_json()


def load_benchmark(name: str) -> Any:
    """A benchmark by registry name or file path (opened once per process)."""
    if name in _OPEN:
        return _OPEN[name]
    if name in BUILT:
        bench = open_built(name)
    elif name.startswith("surrogate:"):  # a fitted surrogate file (`nasscout surrogate fit`)
        from surrogate.fitted import SurrogateBenchmark

        bench = SurrogateBenchmark.open(name.split(":", 1)[1])
    elif name.startswith("oneshot:"):  # a trained supernet's scores (`nasscout supernet score`)
        from surrogate.oneshot import OneShotBenchmark

        bench = OneShotBenchmark(name.split(":", 1)[1])
    elif name.startswith("train:"):  # real training (torch imported only when a cell is trained)
        from surrogate.training.benchmark import open_training_benchmark

        bench = open_training_benchmark(name)
    elif name.endswith((".h5", ".hdf5")) or Path(name).is_file():
        bench = TabularBenchmark.open(
            name, rebuild_hint="rebuild it with the command that made it (see its README)"
        )
    elif benchmark_cache(name).exists():  # e.g. 'nats-tss' after `nasscout data import nats-tss`
        bench = open_cached(name, f"re-import it (`nasscout data import {name} PATH`)")
    elif name in entry_points_of("benchmark") or is_import_path(name):
        bench = _plugin_benchmark(name)
    else:
        accepted = ", ".join(
            [n for n in BENCHMARKS if n in BUILT or benchmark_cache(n).exists()]
            + sorted(entry_points_of("benchmark"))
        )
        raise NasscoutError(
            f"unknown benchmark {name!r}; accepted: {accepted}, a path to a .h5 file, or "
            "package.module:function, surrogate:FILE (a fitted surrogate), oneshot:FILE (a scored supernet)"
        )
    _OPEN[name] = bench
    return bench
