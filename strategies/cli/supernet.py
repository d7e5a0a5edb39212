"""``nasscout supernet``: train an NB201 supernet (weight sharing) and score cells by inherited weights.

``train`` writes one resumable file (rerun the same command after a kill to continue); ``score`` writes a CSV
of inherited-weight accuracies (cached next to the supernet file, so asking again is free); ``info`` prints
what a supernet file records.
"""

from __future__ import annotations

import json
import sys

import click

from surrogate.errors import NasscoutError


@click.group("supernet")
def supernet() -> None:
    """Train an NB201 supernet and score cells by the weights they inherit (one-shot estimation)."""


@supernet.command("train")
@click.option("--dataset", required=True, help="fashion-mnist, cifar10 or cifar100.")
@click.option("--preset", default="cpu-mini", show_default=True, help="cpu-mini or nb201.")
@click.option("--epochs", type=int, required=True, help="Supernet epochs (its cosine schedule).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The supernet FILE.")
@click.option("--seed", type=int, default=0, show_default=True, help="Weights, batches and cells.")
@click.option(
    "--sampling",
    default="uniform",
    show_default=True,
    help="uniform (SPOS: one random cell per step) or fair (FairNAS: 5 cells covering every op per step).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a preset option.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda."
)
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the file's header as one JSON object.")
def train(
    dataset: str,
    preset: str,
    epochs: int,
    out: str,
    seed: int,
    sampling: str,
    sets: tuple[str, ...],
    device: str,
    threads: int,
    as_json: bool,
) -> None:
    """Train a supernet into FILE, checkpointed every epoch (kill it and rerun the same command to resume)."""
    from pathlib import Path

    from tqdm import tqdm

    from surrogate.training.data import canonical_dataset
    from surrogate.training.presets import get_preset, parse_overrides
    from surrogate.training.supernet_train import (
        SupernetRun,
        check_epochs,
        check_sampling,
        existing_run,
        train_supernet,
    )
    from surrogate.training.trainer import check_device

    check_epochs(epochs)
    check_sampling(sampling)
    check_device(device)
    if seed < 0:
        raise NasscoutError(f"--seed {seed} is invalid; accepted: an integer >= 0")
    if threads < 1:
        raise NasscoutError(f"--threads {threads} is invalid; accepted: a positive integer")
    ds = canonical_dataset(dataset)
    p = get_preset(preset, parse_overrides(sets))
    run = SupernetRun(ds, p, epochs, Path(out), seed, sampling, device, threads)
    existing_run(run)  # refuse another run's file before the progress bar starts
    bar = tqdm(total=epochs, desc=f"supernet {Path(out).name}", unit="epoch", file=sys.stderr)

    def on_epoch(epoch: int, rec: dict, resumed: bool) -> None:
        if resumed and epoch == 1:
            bar.write(f"resuming {out} from its file", file=sys.stderr)
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", refresh=False)
        bar.update(1)

    try:
        header = train_supernet(run, on_epoch=on_epoch)
    finally:
        bar.close()
    if bar.n == epochs and not header.get("trained_now"):
        click.echo(f"{out} is already trained for {epochs} epochs; nothing to train", err=True)
    if as_json:
        click.echo(json.dumps(header))
        return
    last = header["records"][-1]
    click.echo(
        f"supernet {out}: {ds}, preset {p.name}, {sampling} sampling, seed {seed}, "
        f"{header['epochs_trained']}/{epochs} epochs, last train loss {last['train_loss']:.3f}, "
        f"{header['train_seconds']:.0f} s training ({header['train_cpu_seconds']:.0f} s CPU) on "
        f"{header['device']}"
    )


@supernet.command("score")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--cells",
    "cells_arg",
    default="all",
    show_default=True,
    help="all (every cell of NB201) or a CSV/text file of cells (arch strings or indices).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The CSV to write.")
@click.option(
    "--recal-batches",
    type=int,
    default=4,
    show_default=True,
    help="Training batches re-estimating BatchNorm statistics per cell (0: none).",
)
@click.option(
    "--eval-images",
    type=int,
    default=None,
    help="Score on the first N validation images [default: all of the preset's].",
)
@click.option(
    "--every-cell",
    is_flag=True,
    help="Score every cell itself, not one per isomorphism class (about 2.4x slower for all).",
)
@click.option("--split", default="valid", show_default=True, help="valid or test.")
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda."
)
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads.")
def score(
    file: str,
    cells_arg: str,
    out: str,
    recal_batches: int,
    eval_images: int | None,
    every_cell: bool,
    split: str,
    device: str,
    threads: int,
) -> None:
    """Score cells by inherited weights into a CSV; cached next to FILE.

    Columns: cell, arch, score (validation accuracy %, BN recalibrated), loss (mean validation
    cross-entropy), class_id, scored_as (the cell actually scored: its class representative),
    score_seconds, params_m."""
    import time

    import numpy as np
    from tqdm import tqdm

    from surrogate.atomic import atomic_write
    from surrogate.costmodel import params_m
    from surrogate.spaces.nb201 import NB201Space
    from surrogate.training.data import dataset_info
    from surrogate.training.supernet_score import ScoreCache, ScoreSettings, supernet_scores
    from surrogate.training.supernet_train import check_trained, read_supernet_file
    from surrogate.training.trainer import check_device

    check_device(device)
    if threads < 1:
        raise NasscoutError(f"--threads {threads} is invalid; accepted: a positive integer")
    settings = ScoreSettings(recal_batches, eval_images, split, not every_cell).check()
    header = read_supernet_file(file)
    check_trained(file, header)
    space = NB201Space()
    if cells_arg == "all":
        cells = space.all_indices
    else:
        from predictors.io import read_cells_file

        cells, _ = read_cells_file(cells_arg, space)
    bars: list = []

    def on_start(n: int) -> None:
        if n:
            unit = "class" if settings.per_class else "cell"
            bars.append(tqdm(total=n, desc="scoring", unit=unit, file=sys.stderr))

    def on_progress(done: int, total: int) -> None:
        bars[0].update(done)

    t0 = time.perf_counter()
    try:
        idx, scores, seconds = supernet_scores(
            file,
            cells,
            settings,
            device=device,
            threads=threads,
            on_start=on_start,
            on_progress=on_progress,
        )
    finally:
        for bar in bars:
            bar.close()
    wall = time.perf_counter() - t0
    n_scored = bars[0].total if bars else 0
    reps = space.canonical_indices(idx)
    n_classes = dataset_info(header["dataset"])[1]
    params = params_m(idx, n_classes=n_classes, C=header["preset"]["C"], N=header["preset"]["N"])
    losses = ScoreCache(file, settings).loss[idx]
    lines = ["cell,arch,score,loss,class_id,scored_as,score_seconds,params_m"]
    for i, s, lo, r, sec, pm in zip(idx.tolist(), scores, losses, reps.tolist(), seconds, params):
        lines.append(
            f"{i},{space.format(i)},{s:.4f},{lo:.5f},{int(space.class_ids[i])},"
            f"{r if settings.per_class else i},{sec:.5f},{pm:.6f}"
        )
    atomic_write(out, "\n".join(lines) + "\n")
    best = int(np.argmax(scores))
    how = "one per isomorphism class" if settings.per_class else "each cell"
    click.echo(
        f"{len(idx)} cells of {file} ({header['epochs_trained']} epochs, {header['sampling']}) scored "
        f"{how}: {n_scored} {'classes' if settings.per_class else 'cells'} scored now in {wall:.1f} s "
        f"(the rest from its cache), {np.mean(seconds):.3f} s per scored cell; best {space.format(int(idx[best]))} (#{int(idx[best])}) "
        f"{scores[best]:.2f}%; CSV {out}"
    )


@supernet.command("info")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the header as one JSON object.")
def info(file: str, as_json: bool) -> None:
    """What a supernet file records: dataset, preset, sampling, seed, epochs, training seconds, versions."""
    from surrogate.training.supernet_train import read_supernet_file

    h = {k: v for k, v in read_supernet_file(file).items() if k != "state"}
    if as_json:
        click.echo(json.dumps(h))
        return
    p = h["preset"]
    click.echo(
        f"{file}: NB201 supernet on {h['dataset']}, preset {p['name']} (C={p['C']}, N={p['N']}), "
        f"{h['sampling']} sampling, seed {h['seed']}, {h['epochs_trained']}/{h['epochs']} epochs, "
        f"{h.get('train_seconds', 0):.0f} s training ({h.get('train_cpu_seconds', 0):.0f} s CPU), "
        f"torch {h['versions'].get('torch')}, nasscout {h['versions'].get('nasscout')}"
    )
