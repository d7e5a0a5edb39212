"""Run one weight-sharing search for a budget of supernet epochs, resumable after ``kill -9``.

The out folder holds ``meta.json`` (the configuration; a resume must match it), ``checkpoint.pt`` (shared
weights, the method's own state and the curve so far; tensors and plain data, loaded with
``weights_only=True``, replaced atomically after every epoch), ``curve.csv`` (one row per epoch with the
measured wall and CPU seconds and their running totals), ``result.json`` and ``curve.png``. A resumed search replays nothing:
it restores both states and continues at the next epoch, so its curve and result equal an uninterrupted run's
bit for bit (only the measured seconds differ).

On Fashion-MNIST the chosen cell's real accuracy comes from our full-run table
(``datasets/nb201-fmnist-mini.h5``, cpu-mini's own 20-epoch recipe) with its rank among the table's cells; a
cell outside the table, or a search with another recipe, is trained on demand with ``train_run`` (the search's
preset, seed 0) and the result says so.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import atomic_path, atomic_write
from surrogate.errors import NasscoutError
from surrogate.training.presets import PRESETS, Preset

FORMAT = "nasscout-oneshot-1"
REPO = Path(__file__).resolve().parents[2]
FMNIST_TABLE = REPO / "datasets" / "nb201-fmnist-mini.h5"


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search's numbers (what meta.json records and a resume checks)."""

    method: str
    dataset: str
    preset: Preset
    budget_epochs: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    threads: int = 1
    cells: str = "all"  # the final pick among: all (the whole space) or table (our full-run cells)

    def plain(self) -> dict[str, Any]:
        d = asdict(self)
        d["preset"] = self.preset.settings()
        return d


def check_budget(budget_epochs: Any) -> int:
    if isinstance(budget_epochs, bool) or not isinstance(budget_epochs, int) or budget_epochs < 1:
        raise NasscoutError(
            f"budget of {budget_epochs!r} epochs is too small for one epoch of the supernet; "
            "accepted: an integer >= 1 (one epoch = one pass over the preset's training images)"
        )
    return budget_epochs


def _check_out(out: Path, config: SearchConfig, resume: bool) -> bool:
    """True when there is a checkpoint to resume; refuse an existing folder without --resume and a resume
    whose options differ from the folder's."""
    meta_path = out / "meta.json"
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise NasscoutError(
                f"--out {out} already exists; accepted: a new folder, or --resume to continue the search in it"
            )
        return False
    if not meta_path.is_file():
        raise NasscoutError(
            f"--resume: {out} holds no search (no meta.json); accepted: a search folder"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise NasscoutError(f"--resume: {meta_path} is unreadable; start a new search") from None
    want = config.plain()
    for key, value in want.items():
        if meta.get("config", {}).get(key) != json.loads(json.dumps(value)):
            raise NasscoutError(
                f"--resume with other options than the search in {out}: {key}="
                f"{json.dumps(value)} here, {json.dumps(meta.get('config', {}).get(key))} there; "
                "accepted: the same options (see its meta.json)"
            )
    return (out / "checkpoint.pt").is_file()


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NasscoutError(
            f"checkpoint {path} holds objects other than tensors and plain data and was refused"
        ) from None
    except Exception as exc:  # replaced atomically, so this is another file
        raise NasscoutError(f"checkpoint {path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise NasscoutError(f"checkpoint {path} is not a nasscout one-shot checkpoint")
    return state


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _curve_csv(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(
        x, [r["train_loss"] for r in rows], color="tab:red", label="training loss (shared weights)"
    )
    ax.set_xlabel("budget epoch (one pass of the supernet over the training images)")
    ax.set_ylabel("training loss", color="tab:red")
    ax2 = ax.twinx()
    for key, label, color in (
        ("probe_acc", "probe cells: inherited accuracy (%)", "tab:blue"),
        ("reward_acc", "controller samples: minibatch accuracy (%)", "tab:blue"),
        ("baseline", "REINFORCE baseline (%)", "tab:green"),
        ("best_score", "chosen cell, full validation (%)", "black"),
    ):
        pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if pts:
            ax2.plot(*zip(*pts), color=color, label=label, marker="." if len(pts) < 3 else None)
    ax2.set_ylabel("accuracy (%)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="center right")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)


def table_cells(dataset: str, table: Path = FMNIST_TABLE) -> list[int]:
    """The cells of our full-run table (the candidates of ``--cells table``)."""
    from surrogate.tabular import TabularBenchmark

    if dataset != "fashion-mnist":
        raise NasscoutError(
            f"--cells table needs our full-run data, which is on fashion-mnist only, not {dataset!r}; "
            "accepted: --cells all"
        )
    return [int(c) for c in TabularBenchmark.open(table).cells_for(dataset)]


def real_accuracy(
    cell: int, config: SearchConfig, out: Path, *, table: Path = FMNIST_TABLE
) -> dict[str, Any]:
    """The chosen cell's accuracy after full training: from our full-run table when the search used its
    recipe (cpu-mini) and the cell is in it, else trained now; with its rank among the table's cells."""
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(table)
    ds = "fashion-mnist"
    cells = np.asarray(bench.cells_for(ds))
    rec = bench.query(cells, dataset=ds, seed="mean")
    same_recipe = config.preset.settings() == PRESETS["cpu-mini"].settings()
    info: dict[str, Any] = {
        "table": str(table.relative_to(REPO) if table.is_relative_to(REPO) else table)
    }
    if same_recipe and cell in set(cells.tolist()):
        pos = int(np.flatnonzero(cells == cell)[0])
        valid, test = float(rec.valid_acc[pos]), float(rec.test_acc[pos])
        info.update(source="table", seeds=bench.seeds(ds))
    else:
        from surrogate.training.trainer import RunSpec, train_run

        spec = RunSpec(
            ds, config.preset, int(cell), 0, out / "real-run.ckpt", config.device, config.threads
        )
        run = train_run(spec)
        valid, test = float(run["valid_acc"]), float(run["test_acc"])
        why = (
            "not in the table" if same_recipe else "preset differs from the table's cpu-mini recipe"
        )
        info.update(source="trained", why=why, seeds=[0], train_time_s=float(run["train_time_s"]))
    in_table = info["source"] == "table"
    info.update(
        valid_acc=valid,
        test_acc=test,
        # rank 1 = best, among the table's cells (plus this one when it is not one of them); none when the
        # recipes differ, as the accuracies would not be comparable
        valid_rank=int(np.sum(rec.valid_acc > valid)) + 1 if same_recipe else None,
        test_rank=int(np.sum(rec.test_acc > test)) + 1 if same_recipe else None,
        n_cells=len(cells) + (0 if in_table else 1),
        table_cells=len(cells),
        table_best_valid=float(np.nanmax(rec.valid_acc)),
        table_best_test=float(np.nanmax(rec.test_acc)),
    )
    return info


def run_search(
    out: str | Path,
    config: SearchConfig,
    *,
    resume: bool = False,
    real: bool = True,
    on_epoch: Callable[[dict[str, Any], bool], None] | None = None,
    splits: Any = None,
) -> dict[str, Any]:
    """Run (or resume) the search into ``out`` and return result.json's content."""
    import torch

    from strategies.oneshot import method_class
    from surrogate.spaces.nb201 import NB201Space
    from surrogate.training.data import canonical_dataset
    from surrogate.training.supernet import SharedWeights

    out = Path(out)
    E = check_budget(config.budget_epochs)
    cls = method_class(config.method)
    if canonical_dataset(config.dataset) != config.dataset:
        config = SearchConfig(**{**config.__dict__, "dataset": canonical_dataset(config.dataset)})
    options = dict(config.options)
    if config.cells == "table":
        import inspect

        if "candidates" not in inspect.signature(cls.__init__).parameters:
            raise NasscoutError(
                f"--cells table: method {config.method!r} chooses its cells itself (a population or an "
                "argmax) and cannot be restricted to our full-run cells; accepted: --cells all (a chosen "
                "cell missing from our data is trained on demand)"
            )
        options["candidates"] = table_cells(config.dataset)
    elif config.cells != "all":
        raise NasscoutError(f"--cells {config.cells!r} is unknown; accepted: all, table")
    has_ckpt = _check_out(out, config, resume)
    sw = SharedWeights(
        config.dataset,
        config.preset,
        seed=config.seed,
        epochs=E,
        device=config.device,
        threads=config.threads,
        splits=splits,
    )
    method = cls(sw, seed=config.seed, **options)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "meta.json").exists():
        meta = {
            "format": FORMAT,
            "config": config.plain(),
            "torch": torch.__version__,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write(out / "meta.json", json.dumps(meta, indent=2) + "\n")
    rows: list[dict[str, Any]] = []
    resumed_at: list[int] = []
    if has_ckpt:
        state = _load_checkpoint(out / "checkpoint.pt")
        if state.get("config") != json.loads(json.dumps(config.plain())):
            raise NasscoutError(
                f"checkpoint in {out} belongs to another search; start a new folder"
            )
        sw.load_state_dict(state["shared"])
        method.load_state_dict(state["method"])
        rows = list(state["rows"])
        resumed_at.append(len(rows))
        if on_epoch is not None:
            for r in rows:
                on_epoch(r, True)
    elapsed = rows[-1]["cum_seconds"] if rows else 0.0
    cpu = rows[-1]["cum_cpu_seconds"] if rows else 0.0
    for epoch in range(len(rows), E):
        lr = float(sw.opt.param_groups[0]["lr"])
        t0, c0 = time.perf_counter(), time.process_time()
        row = method.run_epoch(epoch, E)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        elapsed += dt
        cpu += dc
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            **row,
            "seconds": dt,
            "cum_seconds": elapsed,
            "cpu_seconds": dc,  # this process's CPU time: what a machine shared with other jobs does not stretch
            "cum_cpu_seconds": cpu,
        }
        rows.append(row)
        plain = json.loads(json.dumps(config.plain()))
        _save_checkpoint(
            out / "checkpoint.pt",
            {
                "format": FORMAT,
                "config": plain,
                "shared": sw.state_dict(),
                "method": method.state_dict(),
                "rows": rows,
            },
        )
        atomic_write(out / "curve.csv", _curve_csv(rows))
        if on_epoch is not None:
            on_epoch(row, False)
    atomic_write(out / "curve.csv", _curve_csv(rows))
    outcome = method.result()
    space = NB201Space()
    result: dict[str, Any] = {
        "method": outcome.method,
        "dataset": config.dataset,
        "preset": config.preset.name,
        "budget_epochs": E,
        "seed": config.seed,
        "cells": config.cells,
        "chosen": [
            {"cell": int(c), "arch": space.format(int(c)), "inherited_valid_acc": float(s)}
            for c, s in zip(outcome.chosen, outcome.scores)
        ],
        "train_seconds": float(elapsed),
        "train_cpu_seconds": float(cpu),
        "supernet_steps": int(sw.step),
        "resumed_at": resumed_at,
        "extra": outcome.extra,
    }
    if real and config.dataset == "fashion-mnist" and outcome.chosen:
        result["real"] = real_accuracy(int(outcome.chosen[0]), config, out)
    atomic_write(out / "result.json", json.dumps(result, indent=2, default=_plain) + "\n")
    _plot(
        rows,
        out / "curve.png",
        f"{outcome.method} on {config.dataset} ({config.preset.name}), seed {config.seed}",
    )
    return result


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    raise TypeError(type(x).__name__)
