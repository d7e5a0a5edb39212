"""``nasscout bench``: list, describe and query benchmarks."""

from __future__ import annotations

import json

import click

from surrogate.errors import NasscoutError


@click.group()
def bench() -> None:
    """Inspect and query benchmarks."""


@bench.command("list")
def bench_list() -> None:
    """List the benchmarks nasscout knows."""
    from surrogate.registry import BENCHMARKS, BUILT
    from surrogate.sources import benchmark_cache

    for name, desc in BENCHMARKS.items():
        path = benchmark_cache(name)
        if path.exists():
            state = f"cached at {path}"
        else:
            state = "built on first use" if name in BUILT else "not imported on this machine"
        click.echo(f"{name:14s} {desc}\n{'':14s} {state}")
    click.echo("Any nasscout .h5 file works too, e.g. `nasscout bench info datasets/FILE.h5`.")


@bench.command("info")
@click.argument("benchmark")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_info(benchmark: str, as_json: bool) -> None:
    """Describe BENCHMARK (a name from `bench list` or a .h5 path)."""
    from surrogate.registry import load_benchmark

    info = load_benchmark(benchmark).info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['name']}  ({info['path']})")
    click.echo(f"  space        {info['space']}: arch = {info['arch_format']}")
    click.echo(f"  cells        {info['cells']:,} ({info['unique_cells']:,} isomorphism classes)")
    click.echo(f"  datasets     {', '.join(info['datasets'])}")
    unit = info.get("fidelity_note") or "epochs"
    click.echo(f"  fidelities   {', '.join(map(str, info['fidelities']))} {unit}")
    for ds, m in info["metrics"].items():
        direction = "higher is better" if m["higher_is_better"] else "lower is better"
        held = "" if m["cells"] == info["cells"] else f"; {m['cells']:,} cells"
        click.echo(f"  metric {ds:16s} {m['name']} ({direction}{held})")
    for ds, fields in info["fields"].items():
        click.echo(f"  {ds:19s} {', '.join(fields)}")
    for ds, b in info["best"].items():
        click.echo(f"  best {ds:15s} {b['valid_acc']:.4g}  #{b['index']} {b['arch']}")
    if info.get("cost_note"):
        click.echo(f"  cost         {info['cost_note']}")
    missing = info["sources"].get("missing")
    if missing:
        click.echo(f"  missing      {missing}")


def _parse_seed(text: str) -> str | int:
    if text == "mean":
        return "mean"
    try:
        return int(text)
    except ValueError:
        raise NasscoutError(f"unknown seed {text!r}; accepted: 'mean' or a seed number") from None


@bench.command("query")
@click.argument("benchmark")
@click.option(
    "--dataset", required=True, help="e.g. cifar10, class_object, cora (see `bench info`)"
)
@click.option(
    "--arch", required=True, help="The space's arch string or a cell index (`bench info`)."
)
@click.option("--fidelity", type=int, default=None, help="Training epochs (default: the longest).")
@click.option("--seed", default="mean", show_default=True, help="'mean' or a recorded seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_query(
    benchmark: str, dataset: str, arch: str, fidelity: int | None, seed: str, as_json: bool
) -> None:
    """Look up one cell in BENCHMARK."""
    import math

    from surrogate.registry import load_benchmark

    b = load_benchmark(benchmark)
    seed_value = _parse_seed(seed)
    index = b.space.index(arch)
    rec = b.query([index], dataset=dataset, fidelity=fidelity, seed=seed_value)
    if math.isnan(rec.valid_acc[0]) and seed_value != "mean":
        n = int(b.n_seeds([index], dataset=rec.dataset, fidelity=rec.fidelity)[0])
        have = ", ".join(map(str, b.seeds(rec.dataset, rec.fidelity)[:n]))
        raise NasscoutError(f"seed {seed} is not recorded for cell {index}; accepted: mean, {have}")
    row = rec.row(0, b.space)
    row["benchmark"] = b.name
    if as_json:
        click.echo(json.dumps(row))
        return
    for key, value in row.items():
        shown = (
            "unknown" if value is None else (f"{value:.6g}" if isinstance(value, float) else value)
        )
        click.echo(f"{key:13s} {shown}")
