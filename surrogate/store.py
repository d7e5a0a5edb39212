"""The nasscout benchmark file: one HDF5 file per benchmark, dense arrays indexed by cell row.

Layout (schema version 1)::

    /                       attrs: schema, schema_version, space, name, description, created_utc,
                                   nasscout_version, sources (JSON {field: where it came from}),
                                   checksum (sha256 over every array, in sorted path order)
    /cells                  int64 [n]          cell indices held (of the file's ``space``), sorted ascending
    /<dataset>/cells        int64 [m]          optional: the subset of /cells this dataset holds (sorted);
                                               every array under /<dataset>/ then has m rows, in this order
    /<dataset>              attrs: optional metric (a human name), higher_is_better (bool)
    /<dataset>/fid_<E>/valid_acc      float32 [n, S]     percent; NaN where a seed is missing
    /<dataset>/fid_<E>/test_acc       float32 [n, S]     optional
    /<dataset>/fid_<E>/train_time_s   float32 [n, S]     seconds for the whole E-epoch schedule
    /<dataset>/fid_<E>/curves/<metric> float32 [n, S, E] optional per-epoch records
                                                         (valid_acc, test_acc, train_acc, train_loss, ...)
    /<dataset>/fid_<E>      attrs: seeds (int list, one per S column)
    /<dataset>/static/<field>         float32 [n]        params_m, flops_m, latency_s
    /<dataset>/extra/<field>          float32 [n]        other per-cell numbers (naslib_valid_acc, zen, zc_*)

E is the length of a training schedule in epochs. Two schedules are two fidelities and are never spliced into
one curve (NB201's 12-epoch runs are not the first 12 epochs of its 200-epoch runs). A set of full training
runs with curves is therefore a tabular benchmark like NB201, readable by the same code.

Files are written to a temporary file in the same folder, fsynced, then renamed over the target, so a reader
never sees half a file. Opening verifies the schema version and the checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from surrogate.atomic import atomic_path
from surrogate.errors import DataError, describe_os_error

SCHEMA = "nasscout-benchmark"
SCHEMA_VERSION = 1


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.data)
    return h.hexdigest()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("nasscout")
    except Exception:  # not installed (running from a source tree)
        return "0+unknown"


def write_store(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    *,
    name: str,
    description: str = "",
    sources: Mapping[str, str] | None = None,
    group_attrs: Mapping[str, Mapping[str, Any]] | None = None,
    space: str = "nb201",
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a complete benchmark file atomically. ``arrays`` maps HDF5 paths ('cells', 'cifar10/fid_200/valid_acc')."""
    path = Path(path)
    if "cells" not in arrays:
        raise ValueError("a benchmark store needs a 'cells' array")
    arrays = {k.strip("/"): np.asarray(v) for k, v in arrays.items()}
    n = len(arrays["cells"])
    subset = {
        k.split("/")[0]: len(a)
        for k, a in arrays.items()
        if k.count("/") == 1 and k.endswith("/cells")
    }
    for key, a in arrays.items():
        rows = subset.get(key.split("/")[0], n) if key != "cells" else n
        if key != "cells" and (a.ndim == 0 or a.shape[0] != rows):
            raise ValueError(
                f"array {key!r} has shape {a.shape}; its first axis must be {rows} (cells)"
            )
    try:
        _write(path, arrays, group_attrs, name, description, sources, space, attrs)
    except OSError as exc:  # unwritable folder, disk full, a folder in the file's place
        raise DataError(f"cannot write benchmark file {path}: {describe_os_error(exc)}") from None
    return path


def _write(
    path: Path,
    arrays: dict[str, np.ndarray],
    group_attrs: Mapping[str, Mapping[str, Any]] | None,
    name: str,
    description: str,
    sources: Mapping[str, str] | None,
    space: str,
    attrs: Mapping[str, Any] | None,
) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, a in arrays.items():
                f.create_dataset(key, data=a)
            for group, values in (group_attrs or {}).items():
                g = f.require_group(group)
                for k, v in values.items():
                    g.attrs[k] = v
            f.attrs.update(dict(attrs or {}))
            f.attrs.update(
                schema=SCHEMA,
                schema_version=SCHEMA_VERSION,
                space=space,
                name=name,
                description=description,
                created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                nasscout_version=_version(),
                sources=json.dumps(dict(sources or {}), sort_keys=True),
                checksum=_checksum(arrays),
            )


class StoreData:
    """Everything in a benchmark file, in memory: ``arrays`` by path, root ``attrs``, per-group attrs."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray], attrs: dict, group_attrs: dict):
        self.path = path
        self.arrays = arrays
        self.attrs = attrs
        self.group_attrs = group_attrs

    @property
    def sources(self) -> dict[str, str]:
        return json.loads(self.attrs.get("sources", "{}"))


def read_store(path: str | os.PathLike, *, rebuild_hint: str = "") -> StoreData:
    """Load a benchmark file fully into memory, verifying schema and checksum."""
    path = Path(path)
    hint = f"; {rebuild_hint}" if rebuild_hint else ""
    if not path.exists():
        raise DataError(f"benchmark file {path} does not exist{hint}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a benchmark file; move it away{hint}")
    if not os.access(path, os.R_OK):
        raise DataError(f"benchmark file {path} is not readable (permission denied){hint}")
    arrays: dict[str, np.ndarray] = {}
    group_attrs: dict[str, dict] = {}
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    arrays[name] = obj[()]
                elif len(obj.attrs):
                    group_attrs[name] = dict(obj.attrs)

            f.visititems(visit)
    except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError, ... on damaged files
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise DataError(
            f"benchmark file {path} is unreadable or truncated ({type(exc).__name__}"
            f"{': ' + detail if detail else ''}){hint}"
        ) from None
    try:
        return _verified(path, arrays, attrs, group_attrs, hint)
    except DataError:
        raise
    except (TypeError, ValueError, KeyError) as exc:  # attributes of the wrong type
        raise DataError(f"{path} has damaged metadata ({type(exc).__name__}){hint}") from None


def _verified(
    path: Path, arrays: dict[str, np.ndarray], attrs: dict, group_attrs: dict, hint: str
) -> StoreData:
    if attrs.get("schema") != SCHEMA:
        raise DataError(
            f"{path} is not a nasscout benchmark file (schema {attrs.get('schema')!r}){hint}"
        )
    if int(attrs.get("schema_version", -1)) != SCHEMA_VERSION:
        raise DataError(
            f"{path} has schema version {attrs.get('schema_version')}, this nasscout reads "
            f"version {SCHEMA_VERSION}{hint}"
        )
    if _checksum(arrays) != attrs.get("checksum"):
        raise DataError(f"{path} is corrupt (checksum mismatch){hint}")
    return StoreData(path, arrays, attrs, group_attrs)
