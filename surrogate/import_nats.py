"""Import the official NATS-Bench topology archive (or a NAS-Bench-201 ``.pth``) into a nasscout store.

The public tables ``nasscout data build nb201`` uses hold final accuracies only. Users who hold the official
archive get what curve extrapolators and multi-fidelity strategies need: per-seed, per-epoch records of both
training schedules (12 and 200 epochs, kept apart as two fidelities) for every cell the archive holds.

Which NATS records become which nasscout field (the NB201 convention, as in the NB201 paper and NASLib):

================  =========================================  ==============================================
nasscout dataset  valid_acc (and train/valid curves)         test_acc
================  =========================================  ==============================================
cifar10           cifar10-valid runs (train split), x-valid  cifar10 runs (train+valid), CIFAR-10 test set
cifar100          cifar100 runs, x-valid                     the same runs, x-test
ImageNet16-120    ImageNet16-120 runs, x-valid               the same runs, x-test
================  =========================================  ==============================================

cifar10-valid has no x-test split. Its runs were scored on the CIFAR-10 test set after the last epoch only,
and the number papers quote as "CIFAR-10 test accuracy" (e.g. the 94.37 % optimum) comes from the separate
runs trained on train+valid, which also record a per-epoch test curve; nasscout's built ``nb201`` table uses
them too. So cifar10's ``test_acc`` is those runs', in the column of the same seed number (a different
training run, not the one that produced valid_acc); the test accuracy of the validation runs themselves is
kept as ``cifar10/extra/trainonly_test_acc_<E>`` (mean over seeds).

NATS scored x-valid and x-test of the 200-epoch cifar100 and ImageNet16-120 runs after the last epoch only:
those curves are NaN before it, never filled in. The held-out curve NATS does record per epoch there is
ori-test (x-valid and x-test together), stored as ``curves/valtest_acc`` and ``curves/valtest_loss``.
``train_time_s`` is the sum of the per-epoch training times (``curves/epoch_time_s``) of the validation runs;
evaluation time is not included.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import resolve_dataset
from surrogate.errors import DataError, NasscoutError
from surrogate.spaces.nb201 import N_CELLS, NB201Space

HPS = ("12", "200")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
# nasscout dataset -> (NATS runs scored for validation, their valid split, NATS runs scored for test,
#                     their test split, per-epoch valtest split of the validation runs or None)
SPLITS = {
    "cifar10": ("cifar10-valid", "x-valid", "cifar10", "ori-test", None),
    "cifar100": ("cifar100", "x-valid", "cifar100", "x-test", "ori-test"),
    "ImageNet16-120": ("ImageNet16-120", "x-valid", "ImageNet16-120", "x-test", "ori-test"),
}
FINALS = ("valid_acc", "test_acc", "train_time_s")
CURVES = (
    "valid_acc",
    "valid_loss",
    "test_acc",
    "train_acc",
    "train_loss",
    "epoch_time_s",
    "valtest_acc",
    "valtest_loss",
)
STATIC = ("params_m", "flops_m", "latency_s")
TSS_EXPECTED = (
    "expected an unpacked NATS-Bench topology directory such as NATS-tss-v1_0-3ffb9-simple "
    "(meta.pickle.pbz2 plus one NNNNNN.pickle.pbz2 per cell)"
)
PTH_EXPECTED = "expected NAS-Bench-201-v1_0-e61699.pth or NAS-Bench-201-v1_1-096897.pth"
_DAMAGED = "the archive looks damaged or is not an official NATS-Bench file: unpack it again"
_CELL_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")


# ---- options ------------------------------------------------------------------------------------------
def _check_hps(hp: Iterable[str | int]) -> tuple[str, ...]:
    if isinstance(hp, (str, int)):
        hp = [hp]
    out: list[str] = []
    for h in hp:
        key = str(h).strip()
        if key not in HPS:
            raise NasscoutError(f"unknown training schedule hp={h!r}; accepted: {', '.join(HPS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise NasscoutError(f"no training schedule chosen; accepted hp values: {', '.join(HPS)}")
    return tuple(sorted(out, key=int))


def _check_datasets(datasets: Iterable[str] | None) -> tuple[str, ...]:
    if datasets is None:
        return DATASETS
    if isinstance(datasets, str):
        datasets = [datasets]
    out: list[str] = []
    for d in datasets:
        name = "cifar10" if str(d).lower() == "cifar10-valid" else d
        ds = resolve_dataset(name, DATASETS)
        if ds not in out:
            out.append(ds)
    if not out:
        raise NasscoutError(f"no dataset chosen; accepted: {', '.join(DATASETS)}")
    return tuple(d for d in DATASETS if d in out)


def _check_curves(curves: Iterable[str] | None) -> tuple[str, ...]:
    if curves is None:
        return CURVES
    if isinstance(curves, str):
        curves = [curves]
    chosen = set(curves)
    unknown = sorted(chosen - set(CURVES))
    if unknown:
        raise NasscoutError(f"unknown curve metric {unknown[0]!r}; accepted: {', '.join(CURVES)}")
    return tuple(c for c in CURVES if c in chosen)


# ---- one cell's records -> numbers -------------------------------------------------------------------
@lru_cache(maxsize=8)
def _epoch_keys(epochs: int) -> tuple[int, ...]:
    return tuple(range(epochs))


@lru_cache(maxsize=64)
def _eval_keys(split: str, epochs: int) -> tuple[str, ...]:
    return tuple(f"{split}@{e}" for e in range(epochs))


def _series(values: Mapping | None, keys: tuple) -> np.ndarray:
    """Per-epoch values looked up in a NATS dict (None and missing keys become NaN)."""
    if not values:
        return np.full(len(keys), np.nan)
    try:
        return np.array(itemgetter(*keys)(values), dtype=np.float64).reshape(len(keys))
    except KeyError:
        return np.array([values.get(k) for k in keys], dtype=np.float64)


def _run_arrays(
    run: Mapping | None, test_run: Mapping | None, epochs: int, splits: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """One seed's validation run and test run (ResultsCount state dicts, often the same one)
    -> finals [len(FINALS)], curves [len(CURVES), E]."""
    _, valid, _, test, valtest = splits
    run = run or {}
    acc = run.get("eval_acc1es") or {}
    loss = run.get("eval_losses") or {}
    ep = _epoch_keys(epochs)
    curves = np.full((len(CURVES), epochs), np.nan)
    curves[0] = _series(acc, _eval_keys(valid, epochs))
    curves[1] = _series(loss, _eval_keys(valid, epochs))
    curves[2] = _series((test_run or {}).get("eval_acc1es"), _eval_keys(test, epochs))
    curves[3] = _series(run.get("train_acc1es"), ep)
    curves[4] = _series(run.get("train_losses"), ep)
    curves[5] = _series(run.get("train_times"), ep)
    if valtest:
        curves[6] = _series(acc, _eval_keys(valtest, epochs))
        curves[7] = _series(loss, _eval_keys(valtest, epochs))
    finals = np.array([curves[0, -1], curves[2, -1], curves[5].sum()])
    return finals, curves


def _compute_costs(record: Mapping, train_set: str) -> tuple[float, float, float] | None:
    """(params M, FLOPs M, latency s) by the rules of nats_bench's ``ArchResults.get_compute_costs``.

    Seeds normally agree; where a legacy bug made them disagree, the API takes seed 888's figures (we take
    the first seed's when 888 is absent). Latency is the mean over seeds of the positive measurements.
    """
    results = record.get("all_results") or {}
    seeds = (record.get("dataset_seed") or {}).get(train_set) or ()
    runs = {s: results[(train_set, s)] for s in seeds if (train_set, s) in results}
    if not runs:
        return None

    def agreed(field: str) -> float:
        values = {s: float(r[field]) for s, r in runs.items()}
        if len({f"{v:.5f}" for v in values.values()}) > 1:
            return values.get(888, next(iter(values.values())))
        return float(np.mean(list(values.values())))

    lats = [float(np.mean(r["latency"])) for r in runs.values() if r.get("latency")]
    lats = [v for v in lats if v > 0]
    return agreed("params"), agreed("flop"), float(np.mean(lats)) if lats else np.nan


def _extract_cell(
    where: str, index: int, records: Any, hps: tuple[str, ...], datasets: tuple[str, ...], arch: str
) -> dict[str, Any]:
    """Everything nasscout keeps from one cell's ``{hp: ArchResults state dict}``."""
    if not isinstance(records, Mapping):
        raise DataError(f"{where} does not hold NATS-Bench records (got {type(records).__name__})")
    runs: dict[tuple[str, int], list] = {}
    static: dict[str, tuple[float, float, float]] = {}
    trainonly: dict[int, float] = {}
    for hp in hps:
        record = records.get(hp)
        if not isinstance(record, Mapping):
            continue
        if record.get("arch_str", arch) != arch:
            raise DataError(
                f"{where} holds records of {record.get('arch_str')}, but cell {index} is {arch}"
            )
        epochs = int(hp)
        results = record.get("all_results") or {}
        seeds = record.get("dataset_seed") or {}
        for ds in datasets:
            splits = SPLITS[ds]
            valid_set, test_set = splits[0], splits[2]
            got = []
            for seed in sorted(set(seeds.get(valid_set, ())) | set(seeds.get(test_set, ()))):
                run, test_run = results.get((valid_set, seed)), results.get((test_set, seed))
                if run is not None or test_run is not None:
                    got.append((int(seed), *_run_arrays(run, test_run, epochs, splits)))
            if got:
                runs[(ds, epochs)] = got
        if "cifar10" in datasets and seeds.get("cifar10-valid"):
            accs = [
                (results[("cifar10-valid", s)].get("eval_acc1es") or {}).get(
                    f"ori-test@{epochs - 1}"
                )
                for s in seeds["cifar10-valid"]
                if ("cifar10-valid", s) in results
            ]
            accs = np.array(accs, dtype=np.float64)
            if accs.size and not np.all(np.isnan(accs)):
                trainonly[epochs] = float(np.nanmean(accs))
    # cost figures do not depend on the schedule; the 200-epoch records have every seed
    for hp in sorted(
        (h for h in records if isinstance(records[h], Mapping)), key=lambda h: h != "200"
    ):
        for ds in datasets:
            if ds not in static:
                cost = _compute_costs(records[hp], SPLITS[ds][0])
                if cost is not None:
                    static[ds] = cost
    hps_seen = [str(h) for h, r in records.items() if isinstance(r, Mapping)]
    return {"index": index, "runs": runs, "static": static, "trainonly": trainonly, "hps": hps_seen}


def _read_cell_file(job: tuple[str, int, tuple[str, ...], tuple[str, ...], str]) -> dict[str, Any]:
    """Worker: decompress one cell file with the restricted unpickler and extract it (top level: picklable)."""
    from surrogate.safe_pickle import nats_archive, safe_load_file

    path, index, hps, datasets, arch = job
    records = safe_load_file(path, nats_archive, expected=_DAMAGED)
    return _extract_cell(path, index, records, hps, datasets, arch)


# ---- accumulating cells into dense arrays ------------------------------------------------------------
class _Table:
    """Finals and curves of one dataset at one schedule, filled cell by cell; seed columns grow as seen."""

    def __init__(self, n: int, epochs: int, curves: tuple[str, ...]):
        self.n, self.epochs, self.curve_names = n, epochs, curves
        self.cols: dict[int, int] = {}
        self.finals = np.full((n, 0, len(FINALS)), np.nan, np.float32)
        self.curves = {c: np.full((n, 0, epochs), np.nan, np.float32) for c in curves}

    def _column(self, seed: int) -> int:
        if seed not in self.cols:
            self.cols[seed] = len(self.cols)
            width = self.finals.shape[1]
            if len(self.cols) > width:
                grow = max(1, width)
                pad = np.full((self.n, grow, len(FINALS)), np.nan, np.float32)
                self.finals = np.concatenate([self.finals, pad], axis=1)
                for c, a in self.curves.items():
                    pad = np.full((self.n, grow, self.epochs), np.nan, np.float32)
                    self.curves[c] = np.concatenate([a, pad], axis=1)
        return self.cols[seed]

    def put(self, row: int, seed: int, finals: np.ndarray, curves: np.ndarray) -> None:
        col = self._column(seed)
        self.finals[row, col] = finals
        for c in self.curve_names:
            self.curves[c][row, col] = curves[CURVES.index(c)]

    def arrays(self, prefix: str) -> tuple[dict[str, np.ndarray], list[int]]:
        """Columns in ascending seed order; curve metrics that are NaN everywhere are left out."""
        seeds = sorted(self.cols)
        order = [self.cols[s] for s in seeds]
        out = {f"{prefix}/{f}": self.finals[:, order, i] for i, f in enumerate(FINALS)}
        for c in self.curve_names:
            a = self.curves.pop(c)
            a = a[:, order] if order != list(range(a.shape[1])) else a[:, : len(order)]
            if not np.all(np.isnan(a)):
                out[f"{prefix}/curves/{c}"] = np.ascontiguousarray(a)
        return {k: np.ascontiguousarray(v) for k, v in out.items()}, seeds


def _progress(items: Iterator, total: int, label: str) -> Iterator:
    if total < 200:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=label, unit="cell", file=sys.stderr, disable=None)


def _assemble(
    cells: np.ndarray,
    extracted: Iterable[dict[str, Any]],
    *,
    hps: tuple[str, ...],
    datasets: tuple[str, ...],
    curves: tuple[str, ...],
    source: str,
    reader: str,
) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, dict]]:
    """Per-cell extracts (in ``cells`` order) -> store arrays, sources and group attributes."""
    n = len(cells)
    row_of = {int(c): r for r, c in enumerate(cells)}
    tables: dict[tuple[str, int], _Table] = {}
    static = {ds: np.full((n, len(STATIC)), np.nan, np.float32) for ds in datasets}
    trainonly = {int(hp): np.full(n, np.nan, np.float32) for hp in hps}
    hps_seen: set[str] = set()
    for cell in extracted:
        row = row_of[cell["index"]]
        hps_seen.update(cell["hps"])
        for (ds, epochs), runs in cell["runs"].items():
            if (ds, epochs) not in tables:
                keep = tuple(c for c in curves if SPLITS[ds][4] or not c.startswith("valtest"))
                tables[(ds, epochs)] = _Table(n, epochs, keep)
            for seed, finals, curve in runs:
                tables[(ds, epochs)].put(row, seed, finals, curve)
        for ds, cost in cell["static"].items():
            static[ds][row] = cost
        for epochs, acc in cell["trainonly"].items():
            trainonly[epochs][row] = acc

    for hp in hps:
        if not any(e == int(hp) for _, e in tables):
            have = ", ".join(sorted(hps_seen, key=lambda h: (len(h), h))) or "none"
            raise DataError(f"{source} holds no {hp}-epoch records; schedules present: {have}")
    for ds in datasets:
        if not any(d == ds for d, _ in tables):
            raise DataError(f"{source} holds no {ds} records ({SPLITS[ds][0]} in NATS terms)")

    arrays: dict[str, np.ndarray] = {"cells": cells}
    sources: dict[str, str] = {"archive": source, "reader": reader}
    group_attrs: dict[str, dict] = {}
    for ds, epochs in sorted(tables, key=lambda k: (DATASETS.index(k[0]), k[1])):
        prefix = f"{ds}/fid_{epochs}"
        got, seeds = tables.pop((ds, epochs)).arrays(prefix)
        arrays.update(got)
        valid_set, valid, test_set, test, valtest = SPLITS[ds]
        group_attrs[prefix] = {"seeds": seeds, "epochs": epochs, "nats_valid_runs": valid_set}
        last = epochs - 1
        sources[f"{prefix}/valid_acc"] = f"NATS-tss hp={epochs} {valid_set} runs {valid}@{last}"
        sources[f"{prefix}/test_acc"] = f"NATS-tss hp={epochs} {test_set} runs {test}@{last}"
        sources[f"{prefix}/train_time_s"] = (
            f"NATS-tss hp={epochs} {valid_set} runs, sum of train_times"
        )
        names = sorted(k.rsplit("/", 1)[1] for k in got if "/curves/" in k)
        sources[f"{prefix}/curves"] = (
            f"NATS-tss hp={epochs} per epoch: {', '.join(names)}; valid/train/valtest from {valid_set} "
            f"runs (valid={valid}" + (f", valtest={valtest}" if valtest else "") + f"), test from "
            f"{test_set} runs ({test}); NaN where not recorded"
        )
    for ds in datasets:
        for i, field in enumerate(STATIC):
            col = static[ds][:, i]
            if not np.all(np.isnan(col)):
                arrays[f"{ds}/static/{field}"] = np.ascontiguousarray(col)
        sources[f"{ds}/static"] = (
            f"NATS-tss get_compute_costs('{SPLITS[ds][0]}'): params, flops, latency"
        )
    if "cifar10" in datasets:
        for epochs, acc in trainonly.items():
            if not np.all(np.isnan(acc)):
                arrays[f"cifar10/extra/trainonly_test_acc_{epochs}"] = acc
                sources[f"cifar10/extra/trainonly_test_acc_{epochs}"] = (
                    f"NATS-tss hp={epochs} cifar10-valid runs (train split only: the valid_acc runs) "
                    f"ori-test@{epochs - 1}, mean over seeds"
                )
    return arrays, sources, group_attrs


def _check_order(meta_archs: list, where: str, expected: str) -> None:
    """The archive must list the 15,625 cells in the official NB201 order nasscout indexes by."""
    if meta_archs and isinstance(meta_archs[0], str) and not meta_archs[0].startswith("|"):
        raise NasscoutError(
            f"{where} lists architectures like {meta_archs[0]!r}: a NATS-Bench size search space (sss) "
            f"archive; nasscout imports the topology space (tss): {expected}"
        )
    if len(meta_archs) != N_CELLS:
        raise DataError(
            f"{where} lists {len(meta_archs)} architectures, not the {N_CELLS} NB201 cells"
        )
    try:
        order = NB201Space().indices(list(meta_archs))
    except NasscoutError as exc:
        raise DataError(f"{where} lists an architecture nasscout cannot read ({exc})") from None
    wrong = np.flatnonzero(order != np.arange(N_CELLS))
    if wrong.size:
        raise DataError(
            f"{where} lists cell {wrong[0]} as {meta_archs[wrong[0]]}, which is cell {order[wrong[0]]} "
            "in the official NB201 order"
        )


def _write(out: str | os.PathLike | None, name: str, description: str, parts: tuple) -> Path:
    from surrogate.sources import benchmark_cache
    from surrogate.store import write_store

    arrays, sources, group_attrs = parts
    path = Path(out).expanduser() if out else benchmark_cache(name)
    if path.is_dir():
        raise NasscoutError(f"output {path} is a directory; expected a file path such as {name}.h5")
    return write_store(
        path, arrays, name=name, description=description, sources=sources, group_attrs=group_attrs
    )


def _nats_version() -> str:
    """How the archive was read: nasscout's restricted unpickler, on the record layout of nats_bench."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        layout = f"nats_bench {version('nats_bench')}"
    except PackageNotFoundError:
        layout = "nats_bench"
    return f"nasscout restricted unpickler (record layout of {layout})"


# ---- NATS-Bench topology directory -------------------------------------------------------------------
def _tss_cells(src: Path) -> tuple[list[str], dict[int, str]]:
    """Validate a NATS tss directory; return its meta_archs and the cell files it actually holds."""
    if not src.exists():
        raise NasscoutError(f"NATS-Bench archive {src} does not exist; {TSS_EXPECTED}")
    if src.is_file():
        hint = (
            " (a NAS-Bench-201 file: use `nasscout data import nb201-pth`)"
            if src.suffix == ".pth"
            else ""
        )
        raise NasscoutError(
            f"{src} is a file{hint}; {TSS_EXPECTED}, e.g. unpack NATS-tss-v1_0-3ffb9-simple.tar"
        )
    if "sss" in src.name.lower().split("-"):
        raise NasscoutError(
            f"{src} is a NATS-Bench size search space (sss) archive; nasscout imports the topology "
            f"space (tss): {TSS_EXPECTED}"
        )
    if not (src / "meta.pickle.pbz2").is_file():
        raise NasscoutError(
            f"{src} is not a NATS-Bench directory (no meta.pickle.pbz2 in it); {TSS_EXPECTED}"
        )
    from surrogate.safe_pickle import safe_load_file

    # the meta file is a plain dict (lists, strings, a set): nothing else is admitted
    info = safe_load_file(src / "meta.pickle.pbz2", {}, expected=TSS_EXPECTED)
    archs = info.get("meta_archs") if isinstance(info, dict) else None
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise DataError(f"{src}/meta.pickle.pbz2 has no list of arch strings; {TSS_EXPECTED}")
    if len(set(archs)) != len(archs):
        raise DataError(f"{src}/meta.pickle.pbz2 lists an arch twice; {TSS_EXPECTED}")
    meta = list(archs)
    _check_order(meta, str(src), TSS_EXPECTED)
    files: dict[int, str] = {}
    for entry in os.scandir(src):
        m = _CELL_FILE.match(entry.name)
        if not m:
            continue
        index = int(m.group(1))
        if index >= N_CELLS:
            raise DataError(f"{entry.path} names cell {index}; NB201 cells are 0..{N_CELLS - 1}")
        if index not in files or len(m.group(1)) == 6:  # the API prefers the zero-padded name too
            files[index] = entry.path
    if not files:
        raise DataError(f"{src} holds no cell files (NNNNNN.pickle.pbz2); {TSS_EXPECTED}")
    return meta, files


def import_nats_tss(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    hp: Iterable[str | int] = HPS,
    datasets: Iterable[str] | None = None,
    curves: Iterable[str] | None = None,
    workers: int = 1,
) -> Path:
    """Import every cell a NATS-Bench topology directory holds; return the written store's path.

    ``out`` defaults to ``$NASSCOUT_HOME/benchmarks/nats-tss.h5``. ``curves`` limits the per-epoch metrics
    kept (all of :data:`CURVES` by default; the full archive's 200-epoch curves take ~37 MB per metric and
    dataset). ``workers`` > 1 decompresses cell files in that many processes; the result is identical.
    """
    src = Path(path).expanduser()
    hps, dss, kept = _check_hps(hp), _check_datasets(datasets), _check_curves(curves)
    if int(workers) < 1:
        raise NasscoutError(f"workers must be a positive integer, got {workers!r}")
    meta, files = _tss_cells(src)
    cells = np.array(sorted(files), dtype=np.int64)
    jobs = [(files[int(i)], int(i), hps, dss, meta[int(i)]) for i in cells]
    with ExitStack() as stack:
        if int(workers) > 1 and len(jobs) > 1:
            from concurrent.futures import ProcessPoolExecutor

            pool = stack.enter_context(ProcessPoolExecutor(max_workers=int(workers)))
            chunk = max(1, min(64, len(jobs) // (4 * int(workers))))
            extracted = pool.map(_read_cell_file, jobs, chunksize=chunk)
        else:
            extracted = map(_read_cell_file, jobs)
        parts = _assemble(
            cells,
            _progress(extracted, len(jobs), "import"),
            hps=hps,
            datasets=dss,
            curves=kept,
            source=str(src.resolve()),
            reader=_nats_version(),
        )
    description = (
        f"NATS-Bench topology space (the NB201 cells) imported from {src.name}: {len(cells):,} cells, "
        f"per-seed finals and per-epoch curves of the {' and '.join(hps)}-epoch schedules"
    )
    return _write(out, "nats-tss", description, parts)


# ---- NAS-Bench-201 .pth ------------------------------------------------------------------------------
def _load_pth(src: Path, trust_pickle: bool) -> Any:
    """torch.load with the safe unpickler (plain data and numpy scalars) unless the user trusts the file."""
    import pickle

    import torch

    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    allowed = [
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),  # files pickled under numpy 1.x name it so
        np.dtype,
        *(type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32)),
    ]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(src, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        tail = msg.split("WeightsUnpickler error:", 1)[-1].strip() or msg.strip()
        detail = tail.splitlines()[0][:160] if tail else type(exc).__name__
        refused = [ln for ln in msg.splitlines() if "unsupported global" in ln.lower()]
        if refused:  # torch >= 2.6 says so on a later line of a long message
            detail = refused[0].strip()[:160]
        if not trust_pickle and refused:
            raise DataError(
                f"{src} holds objects the safe loader refuses ({detail}); if you trust the file, "
                "re-run with --trust-pickle"
            ) from None
        raise DataError(
            f"{src} is not a readable PyTorch file ({detail}); {PTH_EXPECTED}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as exc:
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{src} is not a readable PyTorch file ({detail}); {PTH_EXPECTED}"
        ) from None


def import_nb201_pth(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    hp: Iterable[str | int] = HPS,
    datasets: Iterable[str] | None = None,
    curves: Iterable[str] | None = None,
    trust_pickle: bool = False,
) -> Path:
    """Import a NAS-Bench-201 ``.pth`` (its 'less' records are the 12-epoch, 'full' the 200-epoch schedule).

    The file is read with ``torch.load`` (as the ``nas-bench-201`` package itself does), restricted to plain
    data unless ``trust_pickle``. NB201 v1_0 has 12-epoch records for cifar10-valid only.
    """
    src = Path(path).expanduser()
    hps, dss, kept = _check_hps(hp), _check_datasets(datasets), _check_curves(curves)
    if not src.exists():
        raise NasscoutError(f"NAS-Bench-201 file {src} does not exist; {PTH_EXPECTED}")
    if src.is_dir():
        raise NasscoutError(
            f"{src} is a directory; {PTH_EXPECTED} (for a NATS-tss directory use "
            "`nasscout data import nats-tss`)"
        )
    data = _load_pth(src, trust_pickle)
    if not isinstance(data, Mapping) or not {"meta_archs", "arch2infos"} <= set(data):
        got = sorted(map(str, data))[:5] if isinstance(data, Mapping) else type(data).__name__
        raise DataError(
            f"{src} is not a NAS-Bench-201 file (expected meta_archs and arch2infos, got {got})"
        )
    meta = list(data["meta_archs"])
    _check_order(meta, str(src), PTH_EXPECTED)
    infos = data["arch2infos"]
    cells = np.array(sorted(int(i) for i in infos), dtype=np.int64)
    if not len(cells):
        raise DataError(f"{src} holds no evaluated cells")
    if cells[0] < 0 or cells[-1] >= N_CELLS:
        raise DataError(f"{src} holds cell indices outside 0..{N_CELLS - 1}")

    def extracted() -> Iterator[dict[str, Any]]:
        for i in cells:
            info = infos[int(i)]
            if not isinstance(info, Mapping):
                raise DataError(f"{src}: cell {i} holds {type(info).__name__}, not NB201 records")
            records = {"12": info.get("less"), "200": info.get("full")}
            yield _extract_cell(f"{src} cell {i}", int(i), records, hps, dss, meta[int(i)])

    import torch

    parts = _assemble(
        cells,
        _progress(extracted(), len(cells), "import"),
        hps=hps,
        datasets=dss,
        curves=kept,
        source=str(src.resolve()),
        reader=f"torch {torch.__version__} (NAS-Bench-201 .pth layout)",
    )
    description = (
        f"NAS-Bench-201 imported from {src.name}: {len(cells):,} cells, per-seed finals and per-epoch "
        f"curves of the {' and '.join(hps)}-epoch schedules"
    )
    return _write(out, "nb201-pth", description, parts)


# ---- a one-line account for the CLI ------------------------------------------------------------------
def summarize_store(path: str | os.PathLike) -> dict[str, Any]:
    """Cells, datasets, fidelities, seeds and curve lengths of a store, from its metadata (no array reads)."""
    import h5py

    out: dict[str, Any] = {
        "path": str(path),
        "datasets": [],
        "fidelities": set(),
        "seeds": {},
        "epochs": {},
    }
    with h5py.File(path, "r") as f:
        out["cells"] = int(f["cells"].shape[0])
        for ds in f:
            if not isinstance(f[ds], h5py.Group):
                continue
            for key, g in f[ds].items():
                if key.startswith("fid_") and "valid_acc" in g:
                    fid = int(key[4:])
                    if ds not in out["datasets"]:
                        out["datasets"].append(ds)
                    out["fidelities"].add(fid)
                    out["seeds"][f"{ds}@{fid}"] = [int(s) for s in g.attrs.get("seeds", [])]
                    if "curves" in g:
                        out["epochs"][f"{ds}@{fid}"] = {
                            m: int(g["curves"][m].shape[2]) for m in g["curves"]
                        }
    out["datasets"].sort(key=lambda d: DATASETS.index(d) if d in DATASETS else 9)
    out["fidelities"] = sorted(out["fidelities"])
    return out
