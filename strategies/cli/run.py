"""``nasscout run``: many seeds of many strategies on a benchmark, on the simulated clock or real workers,
resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from strategies.cli.early_stop_flags import extrapolator_flags
from surrogate.errors import NasscoutError

# option name -> RunConfig field
_FIELDS = {
    "benchmark": "benchmark",
    "dataset": "dataset",
    "strategy": "strategies",
    "first_seed": "first_seed",
    "seeds": "n_seeds",
    "budget_queries": "budget_queries",
    "budget_seconds": "budget_seconds",
    "workers": "n_workers",
    "observe": "observe",
    "backend": "backend",
    "dask_local": "dask_local",
    "dask_scheduler": "dask_scheduler",
}


def _list_strategies() -> None:
    from strategies.registry import catalog

    rows = catalog()
    width = max(len(n) for n, _, _ in rows)
    wide = max(len(o) for _, o, _ in rows)
    for name, origin, summary in rows:
        click.echo(f"{name:<{width}}  {origin:<{wide}}  {summary}")


def _same_options(pairs: tuple[str, ...], have: dict, strategies: list[str]) -> None:
    """Refuse a resume whose --option values differ from the run's (naming the first that does)."""
    import json

    from strategies.options import parse_options

    for name, given in parse_options(pairs, strategies).items():
        for key, value in given.items():
            had = have.get(name, {}).get(key, "(the default)")
            if json.loads(json.dumps(value)) != had:
                raise NasscoutError(
                    f"cannot resume: --option {name}.{key}={value} differs from the run's "
                    f"{name}.{key}={had} (in meta.json); drop the option or use the same value"
                )


@click.command("run")
@click.option("--benchmark", default="nb201", show_default=True, help="Benchmark name or .h5 path.")
@click.option(
    "--dataset", default="cifar10", show_default=True, help="cifar10, cifar100, ImageNet16-120."
)
@click.option("--strategy", default=None, help="Comma-separated strategy names, or 'all'.")
@click.option(
    "--budget-queries",
    type=int,
    default=None,
    help="Evaluations per search (default 200 when no budget is given).",
)
@click.option("--budget-seconds", type=float, default=None, help="Simulated seconds per search.")
@click.option(
    "--seeds", type=int, default=1, show_default=True, help="Number of seeds per strategy."
)
@click.option("--first-seed", type=int, default=0, show_default=True, help="Seeds are K..K+N-1.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Trials at once per search (simulated, or real processes with --backend local|dask).",
)
@click.option(
    "--observe",
    default="seed",
    show_default=True,
    help="What a strategy sees: seed (one seed's noisy value) or mean (the seed-mean, NASLib's protocol).",
)
@click.option(
    "--backend",
    default=None,
    help="Where trials run: simulated (clock; the default for tables), local (process pool; the default "
    "for train: benchmarks) or dask.",
)
@click.option("--dask-local", type=int, default=None, help="With --backend dask: N local workers.")
@click.option(
    "--dask-scheduler",
    default=None,
    help="With --backend dask: a scheduler address tcp://HOST:PORT.",
)
@click.option(
    "--early-stop",
    default="none",
    show_default=True,
    help="Stop hopeless trainings early: domhan (P(final > best so far) below a threshold, from a "
    "learning-curve extrapolator), median (Vizier's median rule) or none. Needs a table with curves.",
)
@click.option(
    "--early-stop-threshold",
    type=float,
    default=0.05,
    show_default=True,
    help="domhan: stop when P(final > best so far) is below this.",
)
@click.option(
    "--early-stop-min-epochs",
    type=int,
    default=None,
    help="First epoch at which a training may be stopped (default: 25%% of the schedule, at least 2).",
)
@extrapolator_flags("5 for median, 10 with --early-stop-fit, else 1")
@click.option("--jobs", type=int, default=2, show_default=True, help="Processes (1 = in-process).")
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory to create."
)
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@click.option(
    "--rebuild-meta",
    is_flag=True,
    help="With --resume: rebuild a lost OUT/meta.json from the options given (the run's own; the journal "
    "is checked against them).",
)
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="STRATEGY.KEY=VALUE",
    help="A strategy option, typed by its constructor, e.g. rea.population_size=50 (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary line.")
@click.option("--list-strategies", is_flag=True, help="List the strategies and exit.")
@click.pass_context
def run(
    ctx: click.Context,
    benchmark: str,
    dataset: str,
    strategy: str | None,
    budget_queries: int | None,
    budget_seconds: float | None,
    seeds: int,
    first_seed: int,
    workers: int,
    observe: str,
    backend: str | None,
    dask_local: int | None,
    dask_scheduler: str | None,
    early_stop: str,
    early_stop_threshold: float,
    early_stop_extrapolator: str,
    early_stop_min_epochs: int | None,
    early_stop_fit: bool,
    early_stop_min_completed: int | None,
    jobs: int,
    out: Path | None,
    resume: bool,
    rebuild_meta: bool,
    option_pairs: tuple[str, ...],
    quiet: bool,
    list_strategies: bool,
) -> None:
    """Search with every --strategy for seeds K..K+N-1; write OUT/results.csv and OUT/meta.json.

    A strategy is a name from --list-strategies, an installed plugin's name, or your own class as
    package.module:Class (importing it runs its code).

    Each evaluation costs the benchmark's training time on a simulated clock; the strategy sees one seed's
    validation accuracy. Same options -> same results.csv (except wall_time_s). Kill it at any time and
    continue with --resume (options not repeated are taken from OUT/meta.json).
    """
    if list_strategies:
        _list_strategies()
        return
    if out is None:
        raise NasscoutError("no --out given; accepted: a directory for results.csv and meta.json")
    from surrogate.plugins import search_current_folder

    search_current_folder(exclude=out)  # module:Class from here, never from inside the run folder
    from strategies.experiment import make_config, run_experiment
    from strategies.pruning import make_early_stop

    # flag -> key of the early-stopping options (one config field, several flags)
    stop_flags = {
        "early_stop": "rule",
        "early_stop_threshold": "threshold",
        "early_stop_extrapolator": "extrapolator",
        "early_stop_min_epochs": "min_epochs",
        "early_stop_fit": "fit",
        "early_stop_min_completed": "min_completed",
    }
    stop_opts = {
        "rule": early_stop,
        "threshold": early_stop_threshold,
        "extrapolator": early_stop_extrapolator,
        "min_epochs": early_stop_min_epochs,
        "fit": early_stop_fit,
        "min_completed": early_stop_min_completed,
    }
    stop_given = {
        key
        for flag, key in stop_flags.items()
        if ctx.get_parameter_source(flag) is not ParameterSource.DEFAULT
    }

    values = {
        "benchmark": benchmark,
        "dataset": dataset,
        "strategy": strategy,
        "first_seed": first_seed,
        "seeds": seeds,
        "budget_queries": budget_queries,
        "budget_seconds": budget_seconds,
        "workers": workers,
        "observe": observe,
        "backend": backend,
        "dask_local": dask_local,
        "dask_scheduler": dask_scheduler,
    }
    if rebuild_meta and not resume:
        raise NasscoutError(
            "--rebuild-meta works with --resume only (it rebuilds a lost meta.json)"
        )
    if resume and out.exists() and not out.is_dir():
        raise NasscoutError(
            f"nothing to resume: {out} is a file, not a run directory; accepted: the --out "
            "directory of an earlier `nasscout run`"
        )
    if resume and not out.is_dir():
        raise NasscoutError(f"nothing to resume: {out} does not exist; run without --resume")
    if resume and not rebuild_meta:
        from strategies.results import read_meta

        cfg = read_meta(out)["config"]
        # early-stopping options not given are the run's; given ones are checked by run_experiment
        run_stop = dict(cfg.get("early_stop") or {"rule": "none"})
        stop_opts = run_stop | {k: v for k, v in stop_opts.items() if k in stop_given}
    stopping = make_early_stop(**stop_opts)
    if resume and not rebuild_meta:
        given = {k for k in values if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
        # options not given are the run's; given ones are checked against it by run_experiment
        for key, field in _FIELDS.items():
            if key not in given:
                from strategies.experiment import CONFIG_DEFAULTS

                have = cfg.get(field, CONFIG_DEFAULTS.get(field))
                values[key] = ",".join(have) if key == "strategy" else have
    options = None
    if resume and not rebuild_meta:  # the run's own strategy options; given ones must equal them
        options = cfg.get("options", {})
        _same_options(option_pairs, options, values["strategy"].split(","))
        option_pairs = ()
    if values["strategy"] is None:
        from strategies.registry import strategy_names

        raise NasscoutError(
            f"no --strategy given; accepted: all, or any of {', '.join(strategy_names())}"
        )
    if values["budget_queries"] is None and values["budget_seconds"] is None:
        values["budget_queries"] = 200
    if values["backend"] is None:  # real training is worth real workers; a table is not
        values["backend"] = (
            "dask"
            if values["dask_local"] is not None or values["dask_scheduler"] is not None
            else "local"
            if str(values["benchmark"]).startswith("train:")
            else "simulated"
        )
    config, bench = make_config(
        benchmark=values["benchmark"],
        dataset=values["dataset"],
        strategies=values["strategy"],
        first_seed=values["first_seed"],
        n_seeds=values["seeds"],
        budget_queries=values["budget_queries"],
        budget_seconds=values["budget_seconds"],
        n_workers=values["workers"],
        observe=values["observe"],
        backend=values["backend"],
        dask_local=values["dask_local"],
        dask_scheduler=values["dask_scheduler"],
        options=options,
        option_pairs=option_pairs,
        early_stop=stopping,
    )
    try:
        summary = run_experiment(
            out,
            config,
            bench,
            jobs=jobs,
            quiet=quiet,
            command_line=["nasscout", *sys.argv[1:]] if sys.argv else [],
            resume=resume,
            rebuild_meta=rebuild_meta,
        )
    except KeyboardInterrupt:
        click.echo(
            f"\nnasscout: interrupted; continue with: nasscout run --out {out} --resume", err=True
        )
        raise
    if not quiet:
        what = f"{len(config.strategies)} strategies x {config.n_seeds} seeds"
        resumed = f", {summary.n_new_runs} (re)started" if resume else ""
        click.echo(
            f"{what}: {summary.n_rows:,} evaluations{resumed} in {summary.seconds:.1f} s "
            f"-> {out / 'results.csv'}\nnext: nasscout report {out}"
        )
