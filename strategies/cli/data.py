"""``nasscout data``: build benchmark files from public sources, import official archives."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Build and import benchmark data."""


@data.command("build")
@click.argument("benchmark")
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Write here, not the cache."
)
def data_build(benchmark: str, out: str | None) -> None:
    """(Re)build BENCHMARK (nb201, transnas-micro, nasbench-graph) from its sources."""
    import time

    from surrogate.registry import builder
    from surrogate.sources import benchmark_cache
    from surrogate.tabular import TabularBenchmark

    build = builder(benchmark)
    t0 = time.perf_counter()
    path = build(out or benchmark_cache(benchmark))
    info = TabularBenchmark.open(path).info()
    click.echo(
        f"built {path} in {time.perf_counter() - t0:.1f} s: {info['cells']:,} cells, "
        f"datasets {', '.join(info['datasets'])}, fidelities {info['fidelities']}"
    )


@data.group("import")
def data_import() -> None:
    """Import official benchmark archives (per-epoch curves) into a nasscout .h5 file."""


def _imported(path, seconds: float) -> str:
    from surrogate.import_nats import summarize_store

    s = summarize_store(path)
    lengths = sorted({e for per in s["epochs"].values() for e in per.values()})
    seeds = max((len(v) for v in s["seeds"].values()), default=0)
    return (
        f"imported {s['cells']:,} cells x {len(s['datasets'])} dataset{'s' * (len(s['datasets']) != 1)} "
        f"({', '.join(s['datasets'])}) "
        f"x fidelities {', '.join(map(str, s['fidelities']))}: curves of "
        f"{' and '.join(map(str, lengths)) or 'no'} epochs, up to {seeds} seeds, into {path} "
        f"in {seconds:.1f} s"
    )


_hp_option = click.option(
    "--hp",
    "hps",
    multiple=True,
    type=click.Choice(["12", "200"]),
    help="Training schedule(s) to import (repeatable; default: both).",
)
_dataset_option = click.option(
    "--dataset",
    "datasets",
    multiple=True,
    help="cifar10, cifar100, ImageNet16-120 (repeatable; default: all three).",
)
_curves_option = click.option(
    "--curves",
    default=None,
    help="Comma-separated per-epoch metrics to keep (default: all), e.g. valid_acc,train_loss.",
)


def _curves(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


@data_import.command("nats-tss", short_help="Import a NATS-Bench topology directory.")
@click.argument("path")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Output .h5 (default: $NASSCOUT_HOME/benchmarks/nats-tss.h5).",
)
@_hp_option
@_dataset_option
@_curves_option
@click.option(
    "--workers", type=int, default=1, show_default=True, help="Processes reading cell files."
)
def import_nats_tss_cmd(
    path: str,
    out: str | None,
    hps: tuple[str, ...],
    datasets: tuple[str, ...],
    curves: str | None,
    workers: int,
) -> None:
    """Import a NATS-Bench topology directory.

    PATH is an unpacked NATS-tss-v1_0-3ffb9-simple directory; every cell file it holds is imported with
    its per-seed, per-epoch records of the 12- and 200-epoch schedules.
    """
    import time

    from surrogate.import_nats import HPS, import_nats_tss

    t0 = time.perf_counter()
    written = import_nats_tss(
        path,
        out,
        hp=hps or HPS,
        datasets=datasets or None,
        curves=_curves(curves),
        workers=workers,
    )
    click.echo(_imported(written, time.perf_counter() - t0))


@data_import.command("nb201-pth", short_help="Import a NAS-Bench-201 .pth file.")
@click.argument("path")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Output .h5 (default: $NASSCOUT_HOME/benchmarks/nb201-pth.h5).",
)
@_hp_option
@_dataset_option
@_curves_option
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Allow arbitrary pickled objects (only for a file from a source you trust).",
)
def import_nb201_pth_cmd(
    path: str,
    out: str | None,
    hps: tuple[str, ...],
    datasets: tuple[str, ...],
    curves: str | None,
    trust_pickle: bool,
) -> None:
    """Import a NAS-Bench-201 .pth file.

    PATH is NAS-Bench-201-v1_0-e61699.pth or NAS-Bench-201-v1_1-096897.pth.
    """
    import time

    from surrogate.import_nats import HPS, import_nb201_pth

    t0 = time.perf_counter()
    written = import_nb201_pth(
        path,
        out,
        hp=hps or HPS,
        datasets=datasets or None,
        curves=_curves(curves),
        trust_pickle=trust_pickle,
    )
    click.echo(_imported(written, time.perf_counter() - t0))


@data_import.command("table", short_help="Import your own CSV/Parquet table of trained archs.")
@click.argument("path")
@click.option("--space", default="nb201", show_default=True, help="The archs' search space.")
@click.option("--dataset", required=True, help="The name of your data set (e.g. my-cifar10).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .h5 to write.")
@click.option(
    "--epochs", type=int, default=None, help="Training length, when there is no epochs column."
)
@click.option("--name", default=None, help="Benchmark name (default: the --out file's stem).")
@click.option(
    "--arch-column", default="arch", show_default=True, help="The column holding the archs."
)
def import_table_cmd(
    path: str,
    space: str,
    dataset: str,
    out: str,
    epochs: int | None,
    name: str | None,
    arch_column: str,
) -> None:
    """Turn a table of trained architectures (PATH, .csv or .parquet) into a benchmark file.

    Columns: arch (string or index), valid_acc with an optional seed column, or valid_acc_<seed> columns
    (percent); optional test_acc, train_time_s (seconds), epochs, params_m, flops_m, latency_s. Rows that do
    not parse stop the import with their line numbers; archs not in the table are not in the benchmark.
    """
    import time

    from surrogate.import_table import import_table

    t0 = time.perf_counter()
    s = import_table(
        path,
        space=space,
        dataset=dataset,
        out=out,
        epochs=epochs,
        name=name,
        arch_column=arch_column,
    )
    seeds = ", ".join(f"{len(v)} at {e} epochs" for e, v in s.seeds.items())
    click.echo(
        f"imported {s.rows:,} rows = {s.cells:,} {space} cells (seeds: {seeds}) of {dataset} into "
        f"{s.path} in {time.perf_counter() - t0:.1f} s; best valid {s.best_valid_acc:.4g} {s.best_arch}"
    )
    if s.ignored:
        click.echo(f"ignored columns: {', '.join(s.ignored)}")
    click.echo(
        f"next: nasscout run --benchmark {s.path} --dataset {dataset} --strategy rea --budget-queries "
        f"{min(100, s.cells)} --out runs/{s.path.stem}"
    )


@data.command("build-fullruns")
@click.option(
    "--dataset",
    required=True,
    help="fashion-mnist, cifar10, cifar100, or npz:PATH (your own images).",
)
@click.option("--preset", default="cpu-mini", show_default=True, help="cpu-mini or nb201.")
@click.option("--cells", type=int, required=True, help="How many cells (a prefix of a fixed list).")
@click.option("--store", required=True, type=click.Path(dir_okay=False), help="Run store FILE.h5.")
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option("--seeds", default="0", show_default=True, help="Training seeds, comma-separated.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a preset option.")
@click.option("--workers", type=int, default=1, show_default=True, help="Local training processes.")
@click.option(
    "--dask-local", type=int, default=None, help="Train on a local Dask cluster of N workers."
)
@click.option(
    "--dask-scheduler", default=None, help="Train on the Dask cluster at tcp://HOST:PORT."
)
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda."
)
def build_fullruns_cmd(
    dataset, preset, cells, store, epochs, seeds, sets, workers, dask_local, dask_scheduler, device
) -> None:
    """Train CELLS NB201 cells into a run store and consolidate it (resumable: rerun to continue)."""
    from strategies.cli.train import build_fullruns_command

    build_fullruns_command(
        dataset,
        preset,
        cells,
        store,
        epochs,
        seeds,
        sets,
        workers,
        dask_local,
        dask_scheduler,
        device,
    )
