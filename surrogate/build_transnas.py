"""Build the TransNAS-Bench-101 micro benchmark file (``transnas-micro``) from NASLib's Zen zip.

Source: ``transnas101_micro/naslib_all_benchmarks_zen.zip`` (see ../shared/data/transnas101_micro/SOURCE.md):
JSON chunks ``zen/benchmark--transbench101_micro--{task}--{start}.json``, each a list of ``{idx, arch,
zen: {score, time}, val_accuracy}``; ``arch`` is the op-index tuple in our arch-string edge order with
TransNAS-Bench's op codes, so our index is its base-4 code (``surrogate.spaces.transnas``). One value per
cell and task (no seeds, no curves, no training time).

Stored per task (a dataset): ``fid_1/valid_acc`` [4096, 1] the validation metric (higher is better; the
group attrs ``metric``/``higher_is_better`` say which), ``fid_1/train_time_s`` an ESTIMATED cost,
``extra/zen`` (Zen-NAS score), ``extra/naslib_idx`` (NASLib's row id) and ``extra/nb201_flops_m``. The one
fidelity is labelled 1: the source holds each run's final value and does not record the schedule length.
Cost estimate: 1 second per MFLOP of the cell placed in NB201's C=16, N=5 skeleton at 32x32 with 10 classes
(``surrogate.costmodel``), a relative cost that ranks cells by compute, not a measured time; TransNAS-Bench's
own network (64 channels, task-specific decoders) differs, so no params/FLOPs of it are claimed.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from surrogate.errors import DataError
from surrogate.sources import Source, benchmark_cache, find_source
from surrogate.spaces.transnas import N_CELLS, TransNASMicroSpace
from surrogate.store import write_store

SOURCE = Source(
    "transnas101_micro",
    "naslib_all_benchmarks_zen.zip",
    "https://raw.githubusercontent.com/automl/NASLib/7a5496e2211d8ab65da40e0e2d5333aba87df614/"
    "naslib/data/zc_benchmarks/all_benchmarks_zen.zip",
    "TransNAS-Bench-101 micro validation metric + Zen score per cell and task, automl/NASLib (Apache-2.0)",
)
# task -> its metric (TransNAS-Bench's field behind NASLib's val_accuracy); all higher-is-better as stored
TASKS: dict[str, str] = {
    "class_scene": "top-1 accuracy (%) (valid_top1)",
    "class_object": "top-1 accuracy (%) (valid_top1)",
    "jigsaw": "top-1 accuracy (%) (valid_top1)",
    "room_layout": "negative loss (valid_neg_loss; <= 0, closer to 0 is better)",
    "segmentsemantic": "accuracy (%) (valid_acc)",
    "normal": "SSIM (valid_ssim)",
    "autoencoder": "SSIM (valid_ssim)",
}
FIDELITY = 1
FIDELITY_NOTE = "(= the final value; the source records no schedule length)"
COST_NOTE = (
    "ESTIMATED cost: 1 s per MFLOP of the cell in NB201's C=16, N=5 skeleton at 32x32, 10 classes "
    "(surrogate.costmodel); TransNAS-Bench-101 records no training time here"
)


def read_tasks(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per task: valid, zen, naslib_idx arrays in our index order (every cell exactly once)."""
    space = TransNASMicroSpace()
    out: dict[str, dict[str, list]] = {
        t: {"rows": [], "valid": [], "zen": [], "idx": []} for t in TASKS
    }
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            parts = member.rsplit("/", 1)[-1].split("--")
            if len(parts) != 4 or parts[1] != "transbench101_micro" or parts[2] not in TASKS:
                continue
            chunk = json.load(io.TextIOWrapper(zf.open(member)))
            try:
                ops = np.array([[int(v) for v in r["arch"].strip("()").split(",")] for r in chunk])
                t = out[parts[2]]
                t["rows"].append(space.indices_from_ops(ops.reshape(-1, 6)))
                t["valid"] += [float(r["val_accuracy"]) for r in chunk]
                t["zen"] += [float(r["zen"]["score"]) for r in chunk]
                t["idx"] += [int(r["idx"]) for r in chunk]
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{member} has an unexpected row format ({exc})") from None
    tables = {}
    for task, t in out.items():
        rows = np.concatenate(t["rows"]) if t["rows"] else np.empty(0, np.int64)
        if len(rows) != N_CELLS or len(np.unique(rows)) != N_CELLS:
            raise DataError(
                f"{path}: task {task} has {len(rows)} rows ({len(np.unique(rows))} distinct cells), "
                f"expected each of the {N_CELLS} cells once"
            )
        table = {}
        for key in ("valid", "zen", "idx"):
            col = np.empty(N_CELLS, np.float64)
            col[rows] = t[key]
            table[key] = col
        tables[task] = table
    return tables


def build_transnas(path: Path | None = None, *, download: bool = True, log=None) -> Path:
    """Assemble the benchmark file from the NASLib zip; return its path."""
    from surrogate.costmodel import flops_m
    from surrogate.spaces.nb201 import NB201Space

    log = log or (lambda msg: print(msg, file=sys.stderr))
    path = Path(path) if path else benchmark_cache("transnas-micro")
    src, where = find_source(SOURCE, download=download)
    if src is None:
        raise DataError(f"TransNAS-Bench-101 micro data not found ({where})")
    tables = read_tasks(src)
    space = TransNASMicroSpace()
    cells = space.all_indices.copy()
    # the 4 ops have the same ids in NB201, so a cell's op vector is an NB201 cell too
    nb201 = NB201Space().indices_from_ops(space.ops(cells))
    flops = flops_m(nb201, n_classes=10, input_hw=32).astype(np.float64)
    arrays: dict[str, np.ndarray] = {"cells": cells}
    sources: dict[str, str] = {"cost": COST_NOTE}
    group_attrs: dict[str, dict] = {}
    for task, metric in TASKS.items():
        t = tables[task]
        arrays[f"{task}/fid_{FIDELITY}/valid_acc"] = t["valid"][:, None]
        arrays[f"{task}/fid_{FIDELITY}/train_time_s"] = flops[:, None]
        arrays[f"{task}/extra/zen"] = t["zen"]
        arrays[f"{task}/extra/naslib_idx"] = t["idx"]
        arrays[f"{task}/extra/nb201_flops_m"] = flops
        group_attrs[task] = {"metric": metric, "higher_is_better": True}
        group_attrs[f"{task}/fid_{FIDELITY}"] = {"seeds": [0]}
        sources[f"{task}/fid_{FIDELITY}/valid_acc"] = f"NASLib val_accuracy ({metric}) via {where}"
        sources[f"{task}/fid_{FIDELITY}/train_time_s"] = COST_NOTE
        sources[f"{task}/extra/zen"] = f"NASLib Zen-NAS score via {where}"
        sources[f"{task}/extra/naslib_idx"] = "NASLib's row id ('idx') of the cell in that file"
        sources[f"{task}/extra/nb201_flops_m"] = "analytic FLOPs (M) in NB201's skeleton, 32x32"
    log(f"nasscout: building transnas-micro from {where}")
    write_store(
        path,
        arrays,
        name="transnas-micro",
        description="TransNAS-Bench-101 micro (cell) space, 4,096 cells x 7 tasks, final values",
        sources=sources,
        group_attrs=group_attrs,
        space=space.name,
        attrs={
            "cost_note": COST_NOTE,
            "fidelity_note": FIDELITY_NOTE,
            "dataset_order": json.dumps(list(TASKS)),
        },
    )
    return path
