"""``nasscout train`` (one cell, with a progress bar per epoch) and the body of ``nasscout data
build-fullruns`` (many cells, in parallel). Both write into a run store and are resumable."""

from __future__ import annotations

import sys

import click

from surrogate.errors import NasscoutError


def _preset(name: str, epochs: int | None, sets: tuple[str, ...]):
    from surrogate.training.presets import get_preset, parse_overrides

    if epochs is not None and (isinstance(epochs, bool) or epochs < 1):
        raise NasscoutError(f"--epochs {epochs} is invalid; accepted: a positive integer")
    return get_preset(name, parse_overrides(sets), epochs=epochs)


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds or min(seeds) < 0:
        raise NasscoutError(f"--seeds {text!r} is invalid; accepted: comma-separated integers >= 0")
    return seeds


@click.command("train")
@click.option("--arch", required=True, help="An arch string '|op~0|+|...|' or an index 0..15624.")
@click.option(
    "--dataset",
    required=True,
    help="fashion-mnist, cifar10, cifar100, or npz:PATH (your own images).",
)
@click.option("--preset", default="cpu-mini", show_default=True, help="cpu-mini or nb201.")
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed.")
@click.option("--store", required=True, type=click.Path(dir_okay=False), help="Run store FILE.h5.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a preset option.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda."
)
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def train(
    arch: str,
    dataset: str,
    preset: str,
    epochs: int | None,
    seed: int,
    store: str,
    sets: tuple[str, ...],
    device: str,
    threads: int,
    as_json: bool,
) -> None:
    """Train one NB201 cell and record its learning curve in a run store (kill it and rerun to resume)."""
    import json

    from tqdm import tqdm

    from surrogate.spaces.nb201 import NB201Space
    from surrogate.training.data import canonical_dataset
    from surrogate.training.runstore import RunStore
    from surrogate.training.trainer import RunSpec, check_device, train_run

    space = NB201Space()
    cell = space.index(arch)
    check_device(device)
    if seed < 0:
        raise NasscoutError(f"--seed {seed} is invalid; accepted: an integer >= 0")
    if threads < 1:
        raise NasscoutError(f"--threads {threads} is invalid; accepted: a positive integer")
    p = _preset(preset, epochs, sets)
    rs = RunStore(store, canonical_dataset(dataset), p)
    label = f"cell {cell} seed {seed}"
    with rs.run_lock(cell, seed, blocking=False) as got:
        if not got:
            raise NasscoutError(f"{label} is being trained by another process into {store}")
        result = rs.result(cell, seed)
        if result is None:
            bar = tqdm(total=p.epochs, desc=label, unit="epoch", file=sys.stderr, leave=True)

            def on_epoch(epoch: int, rec: dict, resumed: bool) -> None:
                if resumed and epoch == 1:
                    bar.write(f"resuming {label} from its checkpoint", file=sys.stderr)
                bar.set_postfix(
                    valid=f"{rec['valid_acc']:.2f}%", loss=f"{rec['train_loss']:.3f}", refresh=False
                )
                bar.update(1)

            spec = RunSpec(
                rs.dataset, p, cell, seed, rs.checkpoint_path(cell, seed), device, threads
            )
            try:
                result = train_run(spec, on_epoch=on_epoch)
            finally:
                bar.close()
            rs.write_result(result)
        else:
            click.echo(f"{label} is already in {store}; nothing to train", err=True)
    rs.consolidate()
    if as_json:
        click.echo(json.dumps(result))
        return
    status = "" if result["status"] == "ok" else f" [{result['status'].upper()}]"
    click.echo(
        f"{result['arch']} (#{cell}) seed {seed} on {rs.dataset}, preset {p.name}, "
        f"{p.epochs} epochs{status}: valid {result['valid_acc']:.2f}%, test {result['test_acc']:.2f}%, "
        f"{result['params_m']:.4f} M params, {result['train_time_s']:.1f} s; curves in {store}"
    )


def build_fullruns_command(
    dataset: str,
    preset: str,
    cells: int,
    store: str,
    epochs: int | None,
    seeds: str,
    sets: tuple[str, ...],
    workers: int,
    dask_local: int | None,
    dask_scheduler: str | None,
    device: str,
) -> None:
    """``nasscout data build-fullruns``: train a prefix of the fixed cell list into a store."""
    from tqdm import tqdm

    from surrogate.training.build import build_fullruns
    from surrogate.training.data import canonical_dataset
    from surrogate.training.selection import fullruns_cells
    from surrogate.training.trainer import check_device

    check_device(device)
    ds = canonical_dataset(dataset)
    p = _preset(preset, epochs, sets)
    seed_list = _seeds(seeds)
    chosen = fullruns_cells(cells)
    bars: list = []

    def ready(where: str, done: int, total: int) -> None:
        click.echo(f"training on {where}", err=True)
        bars.append(tqdm(total=total, initial=done, desc="runs", unit="run", file=sys.stderr))

    def progress(result: dict, done: int, total: int) -> None:
        bars[0].n = done
        bars[0].set_postfix(cell=result["cell"], valid=f"{result['valid_acc']:.2f}%")
        bars[0].refresh()

    try:
        summary = build_fullruns(
            store,
            dataset=ds,
            preset=p,
            cells=chosen,
            seeds=seed_list,
            workers=workers,
            dask_local=dask_local,
            dask_scheduler=dask_scheduler,
            device=device,
            on_result=progress,
            on_ready=ready,
        )
    finally:
        for bar in bars:
            bar.close()
    click.echo(
        f"{summary['runs']} runs ({summary['trained_now']} trained now, {summary['already_done']} already "
        f"done) of {len(chosen)} cells x seeds {seeds} on {ds}, preset {p.name}, {p.epochs} epochs, in "
        f"{summary['seconds']:.0f} s; store {summary['store']}"
    )
