"""The run store: many training runs written concurrently, read as one nasscout benchmark file.

A store is a benchmark file ``FILE.h5`` (the layout of ``surrogate/store.py``, so ``nasscout bench info`` and
``bench query`` read it like NB201) plus a runs folder ``FILE.runs/`` where training happens:

    FILE.runs/settings.json           dataset + the preset's full settings; every run must match them
    FILE.runs/store.lock              flock: creating settings, consolidating
    FILE.runs/c01234-s0/lock          flock: the one process training cell 1234 with seed 0
    FILE.runs/c01234-s0/checkpoint.pt latest epoch (model, optimiser, scheduler, RNG states, records so far)
    FILE.runs/c01234-s0/result.json   the finished run (curves and final values), written once

Why this design: HDF5 files cannot take concurrent writers safely and ``write_store`` writes whole files, so
each run owns a folder, guarded by an advisory ``flock`` that the kernel releases when its process dies (a
``kill -9`` leaves no stale lock). Every file is written to a temporary name in its folder, fsynced and
renamed, so a reader or a crash sees the old or the new version, never half of one. The checkpoint carries
the records, so a killed run loses at most the epoch in progress and no record is written twice.
``consolidate`` gathers the finished runs (and the runs already in ``FILE.h5``, so a store copied without its
folder still grows) into ``FILE.h5`` atomically, under the store lock. For several machines the store must sit
on a shared filesystem with working ``flock`` (local disks, NFSv4, Lustre with flock enabled).

A store, file or folder, made with another dataset, preset or epoch count is refused: results of two recipes
never mix in one table.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import atomic_write
from surrogate.errors import NasscoutError, describe_os_error
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.data import canonical_dataset
from surrogate.training.presets import Preset, preset_from_settings
from surrogate.training.trainer import CURVE_METRICS

RUNS_SCHEMA = "nasscout-training-runs"
RUNS_VERSION = 1
STATUS_CODES = {"missing": -1, "ok": 0, "diverged": 1}
_SPACE = NB201Space()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text)


@contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` (created if needed); yields False when non-blocking and busy."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def make_settings(dataset: str, preset: Preset) -> dict[str, Any]:
    from surrogate.training.userdata import is_user_dataset, user_dataset_sha256

    out = {
        "schema": RUNS_SCHEMA,
        "version": RUNS_VERSION,
        "dataset": canonical_dataset(dataset),
        "preset": preset.settings(),
    }
    if is_user_dataset(
        out["dataset"]
    ):  # your own file: its contents, not only its path, define the runs
        out["data_sha256"] = user_dataset_sha256(out["dataset"])
    return out


def _describe(settings: dict[str, Any]) -> str:
    p = settings.get("preset", {})
    return f"dataset={settings.get('dataset')} preset={p.get('name')} epochs={p.get('epochs')}"


def _differences(have: dict[str, Any], want: dict[str, Any]) -> str:
    diffs = []
    for key in ("schema", "version", "dataset"):
        if have.get(key) != want.get(key):
            diffs.append(f"{key} {have.get(key)!r} vs {want.get(key)!r}")
    hp, wp = have.get("preset", {}), want.get("preset", {})
    for key in sorted(set(hp) | set(wp)):
        if hp.get(key) != wp.get(key):
            diffs.append(f"{key} {hp.get(key)!r} vs {wp.get(key)!r}")
    return ", ".join(diffs)


def file_settings(path: Path) -> dict[str, Any]:
    """The training settings recorded in a store file; refuses files that are not run stores."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            schema = f.attrs.get("schema")
            found = [
                f[name].attrs["training_settings"]
                for name in f
                if isinstance(f[name], h5py.Group) and "training_settings" in f[name].attrs
            ]
    except Exception as exc:  # h5py: OSError, RuntimeError, KeyError, ... on damaged or odd files
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise NasscoutError(
            f"store {path} is not a readable HDF5 file ({detail}); use another --store"
        ) from None
    if isinstance(schema, bytes):
        schema = schema.decode()
    if schema != "nasscout-benchmark":
        raise NasscoutError(
            f"store {path} is not a nasscout benchmark file (schema {schema!r}); use another --store"
        )
    if not found:
        raise NasscoutError(
            f"store {path} is a nasscout benchmark but not a run store (no training settings); "
            "use another --store"
        )
    text = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
    return _settings_json(text, str(path))


def _settings_json(text: str, where: str) -> dict[str, Any]:
    try:
        settings = json.loads(text)
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        raise NasscoutError(f"the training settings in {where} are unreadable; use another --store")
    return settings


class RunStore:
    """Finished and running trainings of one recipe (dataset + preset) in ``FILE.h5`` + ``FILE.runs/``."""

    def __init__(self, path: str | os.PathLike, dataset: str, preset: Preset) -> None:
        self.path = Path(path)
        if self.path.suffix not in (".h5", ".hdf5"):
            raise NasscoutError(f"store {self.path} must be a .h5 file")
        self.settings = make_settings(dataset, preset)
        self.dataset = self.settings["dataset"]
        self.preset = preset
        self.runs = self.path.with_suffix(".runs")
        if self.path.exists():
            self._check(file_settings(self.path), str(self.path))
        settings_file = self.runs / "settings.json"
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            with file_lock(self.runs / "store.lock"):
                if settings_file.exists():
                    try:
                        text = settings_file.read_text()
                    except UnicodeDecodeError:
                        text = ""
                    have = _settings_json(text, str(settings_file))
                    self._check(have, str(self.runs))
                else:
                    atomic_write_text(
                        settings_file, json.dumps(self.settings, indent=1, sort_keys=True)
                    )
        except OSError as exc:  # read-only folder, a file where the runs folder goes, disk full
            raise NasscoutError(
                f"cannot use run store {self.path}: {describe_os_error(exc)}"
            ) from None

    def _check(self, have: dict[str, Any], where: str) -> None:
        if have != self.settings:
            raise NasscoutError(
                f"store {where} holds runs of {_describe(have)}, not {_describe(self.settings)} "
                f"({_differences(have, self.settings)}); refusing to mix them, use another --store"
            )

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunStore:
        """An existing store, with the settings it was made with (from its file or its runs folder)."""
        path = Path(path)
        settings_file = path.with_suffix(".runs") / "settings.json"
        if path.exists():
            settings = file_settings(path)
        elif settings_file.is_file():
            try:
                settings = _settings_json(settings_file.read_text(), str(settings_file))
            except (OSError, UnicodeDecodeError):
                raise NasscoutError(f"{settings_file} is unreadable; use another --store") from None
        else:
            raise NasscoutError(
                f"store {path} does not exist (neither the file nor {settings_file})"
            )
        if settings.get("schema") != RUNS_SCHEMA or settings.get("version") != RUNS_VERSION:
            raise NasscoutError(
                f"store {path} has run-store schema {settings.get('schema')!r} "
                f"version {settings.get('version')!r}; this nasscout reads version "
                f"{RUNS_VERSION}"
            )
        return cls(path, settings["dataset"], preset_from_settings(settings["preset"]))

    # ---- one run -----------------------------------------------------------------------------------
    @property
    def group(self) -> str:
        """The dataset's group in FILE.h5: its name, or for your own ``npz:`` file a name without slashes
        (``npz-STEM-SHA8``), which ``nasscout bench query FILE.h5 --dataset`` takes."""
        if "data_sha256" not in self.settings:
            return self.dataset
        stem = Path(self.dataset.split(":", 1)[1]).stem
        return f"npz-{stem}-{self.settings['data_sha256'][:8]}"

    def run_dir(self, cell: int, seed: int) -> Path:
        return self.runs / f"c{int(cell):05d}-s{int(seed)}"

    def checkpoint_path(self, cell: int, seed: int) -> Path:
        return self.run_dir(cell, seed) / "checkpoint.pt"

    @contextmanager
    def run_lock(self, cell: int, seed: int, *, blocking: bool = True) -> Iterator[bool]:
        d = self.run_dir(cell, seed)
        d.mkdir(parents=True, exist_ok=True)
        with file_lock(d / "lock", blocking=blocking) as got:
            yield got

    def result(self, cell: int, seed: int) -> dict[str, Any] | None:
        f = self.run_dir(cell, seed) / "result.json"
        if f.exists():
            return json.loads(f.read_text())
        return self._file_results().get((int(cell), int(seed)))

    def write_result(self, result: dict[str, Any], *, keep_checkpoint: bool = False) -> None:
        d = self.run_dir(result["cell"], result["seed"])
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "result.json", json.dumps(result, sort_keys=True))
        ckpt = d / "checkpoint.pt"
        if not keep_checkpoint and ckpt.exists():
            ckpt.unlink()

    # ---- all runs ------------------------------------------------------------------------------------
    def _folder_results(self) -> dict[tuple[int, int], dict[str, Any]]:
        out = {}
        if not self.runs.is_dir():
            return out
        for d in sorted(self.runs.glob("c*-s*")):
            f = d / "result.json"
            if f.exists():
                r = json.loads(f.read_text())
                out[(int(r["cell"]), int(r["seed"]))] = r
        return out

    _file_cache: tuple[float, dict] | None = None

    def _file_results(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Runs already consolidated into FILE.h5 (float32 values), cached by modification time."""
        if not self.path.exists():
            return {}
        mtime = self.path.stat().st_mtime
        if self._file_cache is not None and self._file_cache[0] == mtime:
            return self._file_cache[1]
        from surrogate.store import read_store

        data = read_store(self.path, rebuild_hint="rebuild it with `nasscout data build-fullruns`")
        a = data.arrays
        E = self.preset.epochs
        pre = f"{self.group}/fid_{E}"
        seeds = [int(s) for s in data.group_attrs.get(pre, {}).get("seeds", [])]
        codes = {v: k for k, v in STATUS_CODES.items()}
        out = {}
        for row, cell in enumerate(a["cells"].tolist()):
            for col, seed in enumerate(seeds):
                status = codes[int(a[f"{pre}/status"][row, col])]
                if status == "missing":
                    continue
                curves = {
                    m: a[f"{pre}/curves/{m}"][row, col].astype(float).tolist()
                    for m in CURVE_METRICS
                }
                out[(cell, seed)] = {
                    "cell": cell,
                    "arch": _SPACE.format(cell),
                    "seed": seed,
                    "dataset": self.dataset,
                    "preset": self.preset.name,
                    "status": status,
                    "epochs": E,
                    "valid_acc": float(a[f"{pre}/valid_acc"][row, col]),
                    "test_acc": float(a[f"{pre}/test_acc"][row, col]),
                    "train_time_s": float(a[f"{pre}/train_time_s"][row, col]),
                    "params_m": float(a[f"{self.group}/static/params_m"][row]),
                    "flops_m": float(a[f"{self.group}/static/flops_m"][row]),
                    "curves": curves,
                }
        self._file_cache = (mtime, out)
        return out

    def results(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Every finished run, keyed by (cell, seed): the file's, overridden by the runs folder's."""
        out = dict(self._file_results())
        out.update(self._folder_results())
        return out

    def consolidate(self) -> Path:
        """Write every finished run into FILE.h5 (atomically, under the store lock); returns the path."""
        from surrogate.store import write_store

        with file_lock(self.runs / "store.lock"):
            results = self.results()
            if not results:
                raise NasscoutError(f"store {self.path} has no finished runs to consolidate yet")
            cells = np.array(sorted({c for c, _ in results}), dtype=np.int64)
            seeds = sorted({s for _, s in results})
            n, S, E = len(cells), len(seeds), self.preset.epochs
            row = {c: i for i, c in enumerate(cells.tolist())}
            col = {s: j for j, s in enumerate(seeds)}
            nan2 = np.full((n, S), np.nan, dtype=np.float32)
            valid, test, time_s = nan2.copy(), nan2.copy(), nan2.copy()
            status = np.full((n, S), STATUS_CODES["missing"], dtype=np.int8)
            curves = {m: np.full((n, S, E), np.nan, dtype=np.float32) for m in CURVE_METRICS}
            params = np.full(n, np.nan, dtype=np.float32)
            flops = np.full(n, np.nan, dtype=np.float32)
            for (c, s), r in results.items():
                i, j = row[c], col[s]
                valid[i, j], test[i, j], time_s[i, j] = (
                    r["valid_acc"],
                    r["test_acc"],
                    r["train_time_s"],
                )
                status[i, j] = STATUS_CODES[r["status"]]
                for m in CURVE_METRICS:
                    curves[m][i, j] = r["curves"][m]
                params[i], flops[i] = r["params_m"], r["flops_m"]
            ds, pre = self.group, f"{self.group}/fid_{E}"
            arrays = {
                "cells": cells,
                f"{pre}/valid_acc": valid,
                f"{pre}/test_acc": test,
                f"{pre}/train_time_s": time_s,
                f"{pre}/status": status,
                f"{ds}/static/params_m": params,
                f"{ds}/static/flops_m": flops,
                **{f"{pre}/curves/{m}": v for m, v in curves.items()},
            }
            p = self.preset
            write_store(
                self.path,
                arrays,
                name=self.path.stem,
                description=(
                    f"NB201 cells trained by nasscout on {ds} with preset {p.name} ({E} epochs, C={p.C}, "
                    f"N={p.N}); valid_acc/test_acc are the last epoch's, train_time_s the measured seconds "
                    "of training + validation; status: 0 ok, 1 diverged, -1 missing"
                ),
                sources={"training": f"nasscout surrogate/training, preset {p.name}, {E} epochs"},
                group_attrs={
                    ds: {"training_settings": json.dumps(self.settings, sort_keys=True)},
                    pre: {
                        "seeds": np.array(seeds, dtype=np.int64),
                        "status_codes": json.dumps(STATUS_CODES),
                    },
                },
            )
        return self.path

    def remove_checkpoints(self) -> int:
        """Delete the folders of finished runs that kept checkpoints; returns how many."""
        removed = 0
        for d in self.runs.glob("c*-s*"):
            if (d / "result.json").exists() and (d / "checkpoint.pt").exists():
                (d / "checkpoint.pt").unlink()
                removed += 1
        return removed


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a consolidated store file atomically (e.g. into datasets/)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dst)
    return dst
