"""Train one NB201 cell with one seed, checkpointing every epoch so that a killed run resumes exactly.

A run is a pure function of (dataset, preset, cell, seed): the weights are drawn from a ``torch.Generator``
seeded from the run seed, batches and augmentation from a second one, and nothing uses the global RNGs. After
every epoch the checkpoint (model, optimizer, scheduler, every RNG state, the epoch and the per-epoch records
so far) is written to a temporary file in the same folder, fsynced and renamed over the old one. A ``kill -9``
therefore loses at most the epoch in progress, and a resumed run replays the same batches from the same state:
on CPU with the same thread count its curve is bit-identical to an uninterrupted run's (only the measured
seconds differ). The records live inside the checkpoint, so none is written twice or lost between a record
and its model state.

A diverged run (non-finite training loss) is not a crash: training stops, the network is evaluated once, the
epochs never trained are recorded as NaN, and the run ends with status ``diverged``; its final accuracies
are those measured when it stopped.

Threads: training workers call ``torch.set_num_threads(threads)`` (1 by default), so several runs share a
machine without oversubscription and the arithmetic (hence the curve) does not depend on the core count.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import clean_stale_temps
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.data import Splits, augment, canonical_dataset, load_splits
from surrogate.training.presets import Preset

CKPT_FORMAT = "nasscout-checkpoint-1"
CURVE_METRICS = (
    "train_loss",
    "train_acc",
    "valid_loss",
    "valid_acc",
    "test_loss",
    "test_acc",
    "epoch_time_s",  # seconds of the training phase of the epoch
    "valid_time_s",  # seconds of the validation pass (a search pays it; the test pass it does not)
)
_SPACE = NB201Space()


@dataclass(frozen=True)
class RunSpec:
    """What to train: everything that determines the numbers, plus where to checkpoint."""

    dataset: str
    preset: Preset
    cell: int
    seed: int
    checkpoint: Path | None = None
    device: str = "auto"
    threads: int = 1


def derived_seed(seed: int, stream: int) -> int:
    """Independent 63-bit seeds per purpose (0: weights, 1: data order and augmentation)."""
    return int(np.random.SeedSequence([int(seed), stream]).generate_state(2, np.uint64)[0] >> 1)


def check_device(device: str) -> str:
    """The device name's form (auto, cpu, cuda, cuda:N), checked before any work starts."""
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise NasscoutError(f"unknown device {device!r}; accepted: auto, cpu, cuda, cuda:N")
    return device


def resolve_device(device: str) -> str:
    import torch

    check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NasscoutError(
            f"device {device!r} requested but CUDA is not available; use --device cpu"
        )
    return device


def analytic_flops_m(cell: int, preset: Preset, splits: Splits) -> float:
    """FLOPs per image (torchstat counter) of this network, from the cost model with the stem's real input."""
    from surrogate.costmodel import flops_m

    hw = splits.image_size
    base = float(
        flops_m([cell], n_classes=splits.n_classes, C=preset.C, N=preset.N, input_hw=hw)[0]
    )
    return base - (3 - splits.in_channels) * 9 * preset.C * hw * hw / 1e6


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    clean_stale_temps(path)  # left by a killed run
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _rng_states(data_gen: Any) -> dict[str, Any]:
    import torch

    np_state = np.random.get_state()  # noqa: NPY002 - saved as asked of every checkpoint, never used
    states = {
        "torch": torch.get_rng_state(),
        "data": data_gen.get_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any], data_gen: Any) -> None:
    import torch

    torch.set_rng_state(states["torch"])
    data_gen.set_state(states["data"])
    kind, keys, *rest = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))  # noqa: NPY002
    py = states["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def evaluate(
    net: Any, x: Any, y: Any, splits: Splits, batch: int, device: str
) -> tuple[float, float]:
    """(mean loss, accuracy in percent) of ``net`` in eval mode on one split."""
    import torch
    import torch.nn.functional as F

    net.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = ((x[i : i + batch] - splits.mean) / splits.std).to(device)
            yb = y[i : i + batch].to(device)
            out = net(xb)
            loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
    return loss_sum / len(x), 100.0 * correct / len(x)


def train_run(
    spec: RunSpec,
    *,
    on_epoch: Callable[[int, dict[str, float], bool], None] | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run to its last epoch and return its result as plain JSON-able values.

    ``on_epoch(epoch, record, resumed)`` is called after every epoch (``resumed`` marks epochs restored
    from the checkpoint rather than trained now). ``stop_after=k`` trains only up to epoch k of the same
    schedule and returns a result with ``status`` ``"paused"`` and the first k epochs' curves (the checkpoint
    keeps the rest of the run resumable bit for bit): how a search reads a curve before paying for its end.
    """
    import torch
    import torch.nn.functional as F

    from surrogate.network import build_network, count_parameters

    dataset = canonical_dataset(spec.dataset)
    p = spec.preset
    cell = _SPACE.index(spec.cell)
    device = resolve_device(spec.device)
    torch.set_num_threads(spec.threads)
    splits = load_splits(dataset, p)

    net = build_network(
        cell,
        C=p.C,
        N=p.N,
        n_classes=splits.n_classes,
        in_channels=splits.in_channels,
        seed=derived_seed(spec.seed, 0),
    ).to(device)
    opt = torch.optim.SGD(
        net.parameters(),
        lr=p.lr,
        momentum=p.momentum,
        nesterov=p.nesterov and p.momentum > 0,
        weight_decay=p.weight_decay,
    )
    n = len(splits.train_x)
    steps = math.ceil(n / p.batch_size)
    total = steps * p.epochs
    floor = p.lr_min / p.lr if p.lr > 0 else 0.0
    sched = torch.optim.lr_scheduler.LambdaLR(  # per-iteration cosine decay, as NB201
        opt, lambda it: floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * it / total))
    )
    data_gen = torch.Generator().manual_seed(derived_seed(spec.seed, 1))
    torch.manual_seed(derived_seed(spec.seed, 2))  # nothing should draw from it; fixed anyway

    records: list[dict[str, float]] = []
    status, start, resumed_at = "running", 0, []
    trained = 0  # epochs with a record (a diverged run's records are padded with NaN to the end)
    ckpt = spec.checkpoint
    if ckpt is not None and ckpt.exists():
        state = _load_checkpoint(ckpt, spec, dataset)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        _set_rng_states(state["rng"], data_gen)
        records = list(state["records"])
        status, start = state["status"], int(state["epoch"])
        trained = int(state.get("trained", start))
        resumed_at.append(start)
        if on_epoch is not None:
            for e, rec in enumerate(records, 1):
                on_epoch(e, rec, True)

    mean, std = splits.mean.to(device), splits.std.to(device)
    x_all, y_all = splits.train_x, splits.train_y
    if stop_after is not None and (isinstance(stop_after, bool) or not 1 <= stop_after <= p.epochs):
        raise NasscoutError(f"stop_after={stop_after!r} is invalid; accepted: 1..{p.epochs}")
    end = p.epochs if stop_after is None else int(stop_after)
    for epoch in range(start, end):
        if status == "diverged":
            break
        net.train()
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=data_gen)
        loss_sum, correct, seen, finite = 0.0, 0, 0, True
        for s in range(steps):
            idx = order[s * p.batch_size : (s + 1) * p.batch_size]
            xb = augment(x_all[idx], p.crop_padding, p.flip, data_gen)
            xb = (xb.to(device) - mean) / std
            yb = y_all[idx].to(device)
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            lv = float(loss.detach())
            if not math.isfinite(lv):
                finite = False
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += lv * len(idx)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(idx)
        train_time = time.perf_counter() - t0
        t1 = time.perf_counter()
        valid_loss, valid_acc = evaluate(
            net, splits.valid_x, splits.valid_y, splits, p.eval_batch_size, device
        )
        valid_time = time.perf_counter() - t1
        test_loss, test_acc = evaluate(
            net, splits.test_x, splits.test_y, splits, p.eval_batch_size, device
        )
        rec = {
            "train_loss": loss_sum / seen if finite else math.nan,
            "train_acc": 100.0 * correct / seen if finite else math.nan,
            "valid_loss": valid_loss,
            "valid_acc": valid_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "epoch_time_s": train_time,
            "valid_time_s": valid_time,
        }
        records.append(rec)
        trained = len(records)
        if not finite:  # stop; the epochs never trained stay NaN
            status = "diverged"
            nan = dict.fromkeys(rec, math.nan)
            records.extend(dict(nan) for _ in range(epoch + 1, p.epochs))
        elif epoch + 1 == p.epochs:
            status = "ok"
        if ckpt is not None:
            _save_checkpoint(
                ckpt,
                {
                    "format": CKPT_FORMAT,
                    "dataset": dataset,
                    "preset": p.settings(),
                    "cell": cell,
                    "seed": int(spec.seed),
                    "epoch": len(records),
                    "trained": trained,
                    "status": status,
                    "model": net.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": _rng_states(data_gen),
                    "records": records,
                },
            )
        if on_epoch is not None:
            for e in range(epoch + 1, len(records) + 1):
                on_epoch(e, records[e - 1], False)
    if status == "running" and len(records) == p.epochs:  # resumed from a finished run's checkpoint
        status = "ok"
    elif status == "running":
        status = "paused"

    curves = {m: [float(r[m]) for r in records] for m in CURVE_METRICS}
    times = np.asarray(curves["epoch_time_s"]) + np.asarray(curves["valid_time_s"])
    last = (
        records[-1]
        if status in ("ok", "paused")
        else next(r for r in reversed(records) if not math.isnan(r["valid_acc"]))
    )
    return {
        "cell": cell,
        "arch": _SPACE.format(cell),
        "seed": int(spec.seed),
        "dataset": dataset,
        "preset": p.name,
        "status": status,
        "epochs": p.epochs,
        "epochs_done": trained,
        "valid_acc": last["valid_acc"],  # the last epoch's; a diverged run's when it stopped
        "test_acc": last["test_acc"],
        "train_time_s": float(np.nansum(times)),
        "params_m": count_parameters(net) / 1e6,
        "flops_m": analytic_flops_m(cell, p, splits),
        "curves": curves,
        "device": device,
        "threads": spec.threads,
        "torch": torch.__version__,
        "resumed_at": resumed_at,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "finished_unix": time.time(),  # with train_time_s: when it ran (parallel runs overlap)
        "pid": os.getpid(),
    }


def _load_checkpoint(path: Path, spec: RunSpec, dataset: str) -> dict[str, Any]:
    import torch

    try:  # weights_only: tensors and plain data only, a crafted file cannot run code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NasscoutError(
            f"checkpoint {path} holds objects other than tensors and plain data and was refused "
            "(nothing in it was run); delete it to restart that run"
        ) from None
    except Exception as exc:  # a checkpoint is always replaced atomically; this is another file
        raise NasscoutError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it to restart that run"
        ) from None
    if not isinstance(state, dict):
        raise NasscoutError(f"checkpoint {path} is not a nasscout checkpoint; delete it")
    want = {
        "format": CKPT_FORMAT,
        "dataset": dataset,
        "preset": spec.preset.settings(),
        "cell": _SPACE.index(spec.cell),
        "seed": int(spec.seed),
    }
    for key, value in want.items():
        if state.get(key) != value:
            raise NasscoutError(
                f"checkpoint {path} belongs to another run ({key}={state.get(key)!r}, this run has "
                f"{value!r}); delete it or use another store"
            )
    return state
