"""Files of the predictors layer: fitted models with their metadata, and lists of cells (with targets).

A model file is one self-describing file: a magic line, one line of JSON metadata (schema version, search
space, predictor, target, training cells and their provenance, library versions, payload size and SHA-256),
then the model as JSON plus numeric arrays (:mod:`predictors.state`). No pickle: loading a file from someone
else cannot run code, it can only rebuild the registered predictor types from plain data. The metadata is
checked first, so a file from another space or schema, or a truncated or damaged copy, fails with one clear
line. Files of schema version 1 (pickles, written before) are refused with a line saying to refit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Predictor
from predictors.features import default_space
from predictors.state import UnsafeState, dumps_state, loads_state
from surrogate.errors import NasscoutError
from surrogate.framed import read_framed, write_framed
from surrogate.space import SearchSpace

MAGIC = b"NASSCOUT-PREDICTOR\n"
SCHEMA_VERSION = 2  # 1: pickled payload (no longer loaded: it could run code)
_LIBRARIES = ("numpy", "scipy", "sklearn", "xgboost", "torch", "pandas")
TARGET_COLUMNS = ("valid_acc", "target", "accuracy", "acc", "y")
CELL_COLUMNS = ("arch", "index", "cell")


def library_versions() -> dict[str, str]:
    """Versions of Python, nasscout and the numeric libraries this process has loaded (a model needs them)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    with contextlib.suppress(PackageNotFoundError):
        out["nasscout"] = version("nasscout")
    for lib in _LIBRARIES:
        mod = sys.modules.get(lib)
        if mod is not None:
            out[lib] = str(getattr(mod, "__version__", "unknown"))
    return out


def save_predictor(
    model: Predictor, path: str | os.PathLike, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``model`` and ``metadata`` (JSON-serialisable) to one file, atomically; returns the header."""
    if not isinstance(model, Predictor):
        raise NasscoutError(f"cannot save {type(model).__name__}; accepted: a nasscout Predictor")
    space = model._space().name
    payload = dumps_state(model)
    header = {
        "schema": "nasscout-predictor",
        "schema_version": SCHEMA_VERSION,
        "space": space,
        "predictor": model.name,
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "metadata": metadata or {},
    }
    try:
        return write_framed(path, MAGIC, header, payload)
    except (TypeError, ValueError) as exc:
        raise NasscoutError(f"predictor metadata is not JSON-serialisable: {exc}") from None


def _check_header(p: Path, header: dict[str, Any]) -> None:
    version = header.get("schema_version") if isinstance(header, dict) else None
    if version == 1:
        raise NasscoutError(
            f"{p} was written by an older nasscout as a pickle, which is no longer loaded (loading "
            "a pickle can run code); refit it with `nasscout predictors fit`"
        )
    if version != SCHEMA_VERSION:
        raise NasscoutError(
            f"{p} has predictor schema version {version!r}; this nasscout reads version "
            f"{SCHEMA_VERSION}: refit it with `nasscout predictors fit`"
        )
    space = header.get("space")
    from surrogate.spaces import SPACES

    if space not in SPACES:
        raise NasscoutError(
            f"{p} is a model for search space {space!r}; accepted: {', '.join(SPACES)}"
        )


def _read(path: str | os.PathLike) -> tuple[dict[str, Any], bytes]:
    return read_framed(
        path,
        MAGIC,
        missing="model file {path!r} not found",
        foreign=lambda p, _: (
            f"{p} is not a nasscout predictor file; make one with `nasscout predictors fit`"
        ),
        check_header=_check_header,
        hint="copy or fit it again",
        noun="model",
    )


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The header of a model file (validated), without reading the model."""
    return _read(path)[0]


def load_predictor(path: str | os.PathLike) -> Predictor:
    """The fitted predictor saved at ``path``; its header is attached as ``model.file_metadata_``."""
    header, payload = _read(path)
    try:
        model = loads_state(payload)
    except UnsafeState as exc:
        raise NasscoutError(
            f"{path} is refused: {exc}; nothing in it was run. Load only files made by "
            "`nasscout predictors fit`"
        ) from None
    if not isinstance(model, Predictor):
        raise NasscoutError(f"{path} holds a {type(model).__name__}, not a nasscout predictor")
    if model.needs_training:  # a crafted state of the right types can still be inconsistent
        try:
            model.predict(np.arange(2))
        except Exception as exc:
            raise NasscoutError(
                f"{path} is refused: its model data is inconsistent ({type(exc).__name__}); "
                "fit it again with `nasscout predictors fit`"
            ) from None
    model.file_metadata_ = header
    return model


# ---- cell lists ---------------------------------------------------------------------------------------


def _split(line: str) -> list[str]:
    if "," in line:
        return [f.strip() for f in line.split(",")]
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    return line.split()


def read_cells_file(
    path: str | os.PathLike, space: SearchSpace | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cells (and targets, when the file has them) from a CSV/TSV/text file.

    Accepted: a header row naming a cell column (``arch``, ``index`` or ``cell``) and optionally a target
    column (``valid_acc``, ``target``, ``accuracy``, ``acc`` or ``y``), or no header and one cell per line
    with an optional second field, the target. Cells are arch strings or indices; ``#`` starts a comment.
    """
    space = space or default_space()
    p = Path(path)
    if not p.is_file():
        raise NasscoutError(f"cells file {str(p)!r} not found")
    lines = [
        (n, ln.strip())
        for n, ln in enumerate(p.read_text().splitlines(), start=1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not lines:
        raise NasscoutError(f"cells file {p} lists no cells; accepted: one cell per line")
    first = [f.lower() for f in _split(lines[0][1])]
    cell_col, target_col = 0, 1
    if any(c in first for c in CELL_COLUMNS):
        cell_col = next(first.index(c) for c in CELL_COLUMNS if c in first)
        target_col = next((first.index(c) for c in TARGET_COLUMNS if c in first), None)
        lines = lines[1:]
        rows = list(csv.reader(io.StringIO("\n".join(ln for _, ln in lines))))
        fields = [[f.strip() for f in r] for r in rows]
    else:
        fields = [_split(ln) for _, ln in lines]
        target_col = 1 if fields and all(len(f) >= 2 for f in fields) else None
    if not fields:
        raise NasscoutError(f"cells file {p} has a header but no cells")
    cells, targets = [], []
    for (lineno, _), f in zip(lines, fields):
        if len(f) <= cell_col:
            raise NasscoutError(
                f"{p}:{lineno}: no cell in this line; accepted: an arch string or index"
            )
        try:
            cells.append(space.index(f[cell_col]))
        except NasscoutError as exc:
            raise NasscoutError(f"{p}:{lineno}: {exc}") from None
        if target_col is not None:
            try:
                targets.append(float(f[target_col]))
            except (ValueError, IndexError):
                value = f[target_col] if len(f) > target_col else ""
                raise NasscoutError(
                    f"{p}:{lineno}: target {value!r} is not a number; accepted: accuracy in percent"
                ) from None
    idx = np.asarray(cells, dtype=np.int64)
    return idx, (np.asarray(targets, dtype=np.float64) if target_col is not None else None)
