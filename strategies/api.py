"""The Python twin of ``nasscout run`` + ``nasscout report``: one call from a notebook or a script.

    from strategies.api import run_experiment

    results, report = run_experiment(
        benchmark="nb201", dataset="cifar10",
        strategies=["rea", MyStrategy, ("bo-gp", {"acquisition": "ucb"})],
        seeds=range(100), budget_queries=200, out="runs/x", resume=True,
    )

Same run directory, journal, exact resume and numbers as the CLI: ``results`` is the DataFrame of
``OUT/results.csv`` (one row per evaluation) and ``report`` the dict ``nasscout report --json`` prints. A
strategy is a registered name, an installed plugin's name, an import path ``package.module:Class``, a
Strategy class (even one defined in the notebook), or a ``(strategy, {option: value})`` pair.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from surrogate.errors import NasscoutError


class Experiment(NamedTuple):
    """What :func:`run_experiment` returns (unpacks as ``results, report``)."""

    results: Any  # pandas.DataFrame, the columns of results.csv
    report: dict[str, dict[str, Any]]  # per strategy, as `nasscout report --json`


def _seeds(seeds: int | Iterable[int]) -> tuple[int, int]:
    """(first seed, count) from a count or consecutive seeds (``range(100)``, ``[5, 6, 7]``)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return 0, seeds
    try:
        values = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise NasscoutError(
            f"seeds {seeds!r} is invalid; accepted: a count or consecutive integers like range(100)"
        ) from None
    if not values or values != list(range(values[0], values[0] + len(values))):
        raise NasscoutError(
            f"seeds {str(seeds)[:60]} are not consecutive; accepted: a count or consecutive integers "
            "like range(100) (a run's seeds are K..K+N-1)"
        )
    return values[0], len(values)


def _strategies(items: Any) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Names for the run (classes registered by their ``module:qualname``) and the options given."""
    from strategies.registry import register_class

    if isinstance(items, (str, type)) or (isinstance(items, tuple) and len(items) == 2 and
                                          isinstance(items[1], dict)):  # fmt: skip
        items = [items]
    names: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        opts: dict[str, Any] = {}
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], dict):
                raise NasscoutError(
                    f"strategy {item!r} is invalid; accepted: a name, a Strategy class, or "
                    "(strategy, {option: value})"
                )
            item, opts = item
        if isinstance(item, type):
            name = register_class(item)
        elif isinstance(item, str):
            name = item.strip()
        else:
            raise NasscoutError(
                f"strategy {item!r} is a {type(item).__name__}; accepted: a name, an import path "
                "package.module:Class, a Strategy class, or (strategy, {option: value})"
            )
        names.append(name)
        if opts:
            options[name] = dict(opts)
    return names, options


def report_of(out: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The summary ``nasscout report --json`` prints for run directory ``out`` (complete searches only)."""
    from strategies.completeness import restrict, run_status
    from strategies.report import summarize
    from strategies.results import load_run

    run = load_run(out)
    status = run_status(run.df, run.meta, run.journal.contents.done if run.journal else None)
    summary = summarize(restrict(run.df, status), run.meta, list(status))
    for name, st in status.items():
        summary[name]["n_seeds"] = len(st.seeds_present)
        summary[name].update(st.to_json())
    return summary


def run_experiment(
    *,
    strategies: Any,
    out: str | os.PathLike,
    benchmark: str = "nb201",
    dataset: str = "cifar10",
    seeds: int | Iterable[int] = 1,
    budget_queries: int | None = None,
    budget_seconds: float | None = None,
    workers: int = 1,
    observe: str = "seed",
    backend: str = "simulated",
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
    jobs: int = 2,
    resume: bool = False,
    quiet: bool = False,
) -> Experiment:
    """Run every strategy x seed into ``out`` (as ``nasscout run``) and return (results, report).

    ``resume=True`` continues the run in ``out`` when there is one (refusing when an option or a plugin's
    code differs, like ``--resume``) and starts it otherwise. ``budget_queries`` defaults to 200 when no
    budget is given, as on the command line.
    """
    from strategies.experiment import make_config
    from strategies.experiment import run_experiment as execute
    from strategies.registry import unregister
    from strategies.results import META_NAME, load_results

    out = Path(out)
    first_seed, n_seeds = _seeds(seeds)
    if budget_queries is None and budget_seconds is None:
        budget_queries = 200
    names, options = _strategies(strategies)
    try:  # classes given as objects are known for this call only
        config, bench = make_config(
            benchmark=str(getattr(benchmark, "path", None) or benchmark),
            dataset=dataset,
            strategies=names,
            first_seed=first_seed,
            n_seeds=n_seeds,
            budget_queries=budget_queries,
            budget_seconds=budget_seconds,
            n_workers=workers,
            observe=observe,
            backend=backend,
            dask_local=dask_local,
            dask_scheduler=dask_scheduler,
            options=options,
        )
        continuing = bool(resume) and (out / META_NAME).is_file()
        call = (
            f"run_experiment(benchmark={config.benchmark!r}, dataset={config.dataset!r}, "
            f"strategies={list(config.strategies)!r}, seeds=range({first_seed}, "
            f"{first_seed + n_seeds}), budget_queries={budget_queries!r}, "
            f"budget_seconds={budget_seconds!r}, out={str(out)!r})"
        )
        execute(out, config, bench, jobs=jobs, quiet=quiet, command_line=[call], resume=continuing)
    finally:
        unregister(names)
    results, _ = load_results(out)
    return Experiment(results, report_of(out))
