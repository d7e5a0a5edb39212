"""Train an NB201 supernet with single-path sampling into one resumable file (``nasscout supernet train``).

Sampling (which cells the shared weights are trained on, one training batch at a time):

* ``uniform`` (SPOS, Guo et al. 2020; CARS's warm-up): each step trains one cell drawn uniformly, every edge's
  op independently;
* ``fair`` (FairNAS, Chu et al. 2021, strict fairness): each step draws, for every edge independently, a random
  permutation of the 5 ops; the 5 cells this spells out together use every op exactly once on every edge.
  All 5 run forward/backward on the same batch, their gradients are accumulated (summed, as FairNAS), and one
  SGD update follows, so every op's weights receive exactly one gradient per step. A step costs 5 passes.

The cells of epoch ``e`` are a pure function of ``(seed, e)`` (``np.random.default_rng``), the batches come
from ``SharedWeights``'s own generator, so a run is a pure function of (dataset, preset, seed, sampling,
epochs). After every epoch the whole state is written to the output file atomically (temp file, fsync,
rename), so ``kill -9`` loses at most the epoch in progress and rerunning the same command continues from the
last finished epoch with the same weights bit for bit (CPU, same thread count).

The supernet file is a ``torch.save`` of tensors and plain data only (loaded with ``weights_only=True``, so
opening a file cannot run code): ``format``, ``space``, ``dataset``, ``preset`` (every setting), ``seed``,
``sampling``, ``epochs`` (the schedule's length), ``epochs_trained``, ``train_seconds`` and
``train_cpu_seconds`` (measured wall and process-CPU seconds of the training epochs), per-epoch ``records``, ``versions`` (torch, nasscout) and ``state``
(``SharedWeights.state_dict()``: weights, optimiser, schedule, batch RNG).
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_EDGES, N_OPS
from surrogate.training.data import canonical_dataset
from surrogate.training.presets import Preset, preset_from_settings

FORMAT = "nasscout-supernet-1"
SPACE = "nb201"
SAMPLINGS = ("uniform", "fair")
TRAIN_HINT = "train one with `nasscout supernet train --dataset DATASET --preset PRESET --epochs E --out FILE`"


def check_sampling(sampling: str) -> str:
    if sampling not in SAMPLINGS:
        raise NasscoutError(f"unknown sampling {sampling!r}; accepted: {', '.join(SAMPLINGS)}")
    return sampling


def check_epochs(epochs: Any) -> int:
    """An epochs budget of at least one whole epoch (0, negatives and fractions are refused)."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise NasscoutError(
            f"epochs={epochs!r} is too small for one epoch; accepted: a positive integer"
        )
    return int(epochs)


def epoch_cells(seed: int, epoch: int, steps: int, sampling: str) -> np.ndarray:
    """Op ids of the cells each step of ``epoch`` trains: shape (steps, cells per step, 6 edges).

    uniform: one cell per step, ops i.i.d. uniform. fair: 5 cells per step; on every edge the 5 cells hold a
    random permutation of the 5 ops, so together they use each op once per edge.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5E7, int(epoch)]))
    if check_sampling(sampling) == "uniform":
        return rng.integers(0, N_OPS, size=(steps, 1, N_EDGES))
    ops = np.broadcast_to(np.arange(N_OPS), (steps, N_EDGES, N_OPS))
    return rng.permuted(ops, axis=2).transpose(
        0, 2, 1
    )  # [step, cell k, edge] = k-th op of edge's perm


def fair_step(sw: Any, xb: Any, yb: Any, cells: np.ndarray) -> float:
    """One FairNAS step on ``SharedWeights``: gradients of every cell on one batch summed, one update.

    Returns the mean loss over the cells. Same clipping, schedule and step counting as ``train_step``.
    """
    import torch.nn.functional as F
    from torch import nn

    sw.net.train()
    sw.opt.zero_grad(set_to_none=True)
    total = 0.0
    for ops in cells:
        loss = F.cross_entropy(sw.net(xb, tuple(int(o) for o in ops)), yb)
        loss.backward()
        total += float(loss.detach())
    nn.utils.clip_grad_norm_(sw.net.parameters(), 5.0)
    sw.opt.step()
    sw.sched.step()
    sw.step += 1
    return total / len(cells)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    out = {"torch": str(torch.__version__)}
    try:
        out["nasscout"] = version("nasscout")
    except PackageNotFoundError:
        out["nasscout"] = "unknown"
    return out


def save_supernet_file(path: Path, data: dict[str, Any]) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, rename over ``path`` (and fsync the folder)."""
    import torch

    from surrogate.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(data, fh)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_supernet_file(path: str | os.PathLike) -> dict[str, Any]:
    """The checked contents of a supernet file (any other file is refused in one line; nothing is run)."""
    import torch

    p = Path(path)
    if not p.exists():
        raise NasscoutError(f"supernet file {str(p)!r} not found; {TRAIN_HINT}")
    if p.is_dir():
        raise NasscoutError(f"{p} is a folder, not a supernet file; {TRAIN_HINT}")
    try:  # weights_only: tensors and plain data only, so a crafted file cannot run code
        data = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NasscoutError(
            f"{p} holds objects other than tensors and plain data and was refused (nothing in it was run); "
            f"it is not a nasscout supernet file; {TRAIN_HINT}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's wrong path
        raise NasscoutError(
            f"{p} is not a nasscout supernet file ({type(exc).__name__}); {TRAIN_HINT}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise NasscoutError(
            f"{p} is not a nasscout supernet file (format {got!r}; accepted: {FORMAT}); {TRAIN_HINT}"
        )
    if data.get("space") != SPACE:
        raise NasscoutError(
            f"{p} is a supernet of search space {data.get('space')!r}; accepted: {SPACE}"
        )
    keys = ("dataset", "preset", "seed", "sampling", "epochs", "epochs_trained", "state")
    missing = [k for k in keys if k not in data]
    if missing:
        raise NasscoutError(f"{p} is a damaged supernet file (no {missing[0]!r}); {TRAIN_HINT}")
    return data


def check_trained(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Refuse a supernet file with no finished epoch: its weights are the random initialisation."""
    if int(data.get("epochs_trained", 0)) < 1:
        raise NasscoutError(
            f"{path} has 0 epochs trained, so it cannot score cells yet; train it first (rerun the "
            "`nasscout supernet train ... --out` command that made it)"
        )


@dataclass(frozen=True)
class SupernetRun:
    """What to train: everything that determines the weights, plus where they go."""

    dataset: str
    preset: Preset
    epochs: int
    out: Path
    seed: int = 0
    sampling: str = "uniform"
    device: str = "auto"
    threads: int = 1

    def identity(self) -> dict[str, Any]:
        return {
            "space": SPACE,
            "dataset": canonical_dataset(self.dataset),
            "preset": self.preset.settings(),
            "seed": int(self.seed),
            "sampling": self.sampling,
            "epochs": int(self.epochs),
        }


def _check_same_run(path: Path, data: dict[str, Any], run: SupernetRun) -> None:
    for key, want in run.identity().items():
        if data.get(key) != want:
            got = data.get(key)
            if key == "preset":
                diff = (
                    [k for k in want if (got or {}).get(k) != want[k]]
                    if isinstance(got, dict)
                    else []
                )
                got = {k: (got or {}).get(k) for k in diff[:3]} if diff else got
                want = {k: want[k] for k in diff[:3]} if diff else want
            raise NasscoutError(
                f"{path} is another supernet training ({key}={got!r}, this command has {want!r}); "
                "give another --out or the same settings to continue it"
            )


def existing_run(run: SupernetRun) -> dict[str, Any] | None:
    """The contents of ``run.out`` when it exists and belongs to this run (to resume), else None; a file of
    another run (preset, dataset, seed, sampling, epochs) or no supernet file at all is refused."""
    out = Path(run.out)
    if not out.exists():
        return None
    old = read_supernet_file(out)
    _check_same_run(out, old, run)
    return old


def train_supernet(
    run: SupernetRun,
    *,
    on_epoch: Callable[[int, dict[str, float], bool], None] | None = None,
) -> dict[str, Any]:
    """Train (or continue) a supernet to ``run.epochs`` epochs; returns the file's header (no ``state``)
    plus ``trained_now``, the epochs this call trained.

    ``on_epoch(epoch, record, resumed)`` is called per epoch (``resumed``: restored from the file).
    """
    from surrogate.training.supernet import SharedWeights

    check_sampling(run.sampling)
    epochs = check_epochs(run.epochs)
    out = Path(run.out)
    old = existing_run(run)  # another run's file is refused before any data is loaded
    sw = SharedWeights(
        run.dataset,
        run.preset,
        seed=run.seed,
        epochs=epochs,
        device=run.device,
        threads=run.threads,
    )
    data: dict[str, Any] = {
        "format": FORMAT,
        **run.identity(),
        "epochs_trained": 0,
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "records": [],
        "device": sw.device,
        "threads": int(run.threads),
        "versions": _versions(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if old is not None:
        sw.load_state_dict(old["state"])
        keep = ("epochs_trained", "train_seconds", "train_cpu_seconds", "records", "created_utc")
        data.update({k: old[k] for k in keep if k in old})
        data["resumed_at"] = [*old.get("resumed_at", []), int(old["epochs_trained"])]
        if on_epoch is not None:
            for e, rec in enumerate(data["records"], 1):
                on_epoch(e, rec, True)
    steps, start = sw.steps_per_epoch, int(data["epochs_trained"])
    for epoch in range(start, epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        groups = epoch_cells(run.seed, epoch, steps, run.sampling)
        loss_sum, n = 0.0, 0
        for s, (xb, yb) in enumerate(sw.epoch_batches()):
            cells = groups[s]
            if len(cells) == 1:
                loss = sw.train_step(xb, yb, tuple(int(o) for o in cells[0]))
            else:
                loss = fair_step(sw, xb, yb, cells)
            if not math.isfinite(loss):
                raise NasscoutError(
                    f"supernet training diverged (loss {loss}) in epoch {epoch + 1}; the file keeps epoch "
                    f"{epoch}; try a smaller learning rate (--set lr=0.05) and another --out"
                )
            loss_sum += loss * len(yb)
            n += len(yb)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        rec = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / max(n, 1),
            "seconds": seconds,
            "cpu_seconds": cpu,
        }
        data["records"] = [*data["records"], rec]
        data["epochs_trained"] = epoch + 1
        data["train_seconds"] = float(data["train_seconds"]) + seconds
        data["train_cpu_seconds"] = float(data.get("train_cpu_seconds", 0.0)) + cpu
        data["updated_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        save_supernet_file(out, {**data, "state": sw.state_dict()})
        if on_epoch is not None:
            on_epoch(epoch + 1, rec, False)
    return {**data, "trained_now": epochs - start}


def load_shared_weights(
    path: str | os.PathLike,
    *,
    device: str = "auto",
    threads: int = 1,
    require_trained: bool = True,
    splits: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """(``SharedWeights`` restored from a supernet file, its header without ``state``).

    A file with 0 epochs trained is refused (scoring before training); one trained for fewer epochs than its
    schedule is accepted with a note on stderr (its weights are what a killed training left).
    """
    from surrogate.training.supernet import SharedWeights

    data = read_supernet_file(path)
    header = {k: v for k, v in data.items() if k != "state"}
    trained = int(data["epochs_trained"])
    if require_trained:
        check_trained(path, data)
    try:
        preset = preset_from_settings(data["preset"])
    except (TypeError, NasscoutError) as exc:
        raise NasscoutError(f"{path} records an unreadable preset ({exc}); {TRAIN_HINT}") from None
    if trained < int(data["epochs"]):
        print(
            f"nasscout: note: {path} is trained for {trained} of its {data['epochs']} epochs (rerun its "
            "training command to finish it)",
            file=sys.stderr,
        )
    sw = SharedWeights(
        data["dataset"],
        preset,
        seed=int(data["seed"]),
        epochs=int(data["epochs"]),
        device=device,
        threads=threads,
        splits=splits,
    )
    try:
        sw.load_state_dict(data["state"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise NasscoutError(
            f"{path} does not fit the {data['preset'].get('name')} supernet it names "
            f"({type(exc).__name__}); {TRAIN_HINT}"
        ) from None
    return sw, header
