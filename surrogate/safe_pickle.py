"""Reading third-party pickles (NATS-Bench archives, the public NB201 tables) without running their code.

A pickle is a program: ``GLOBAL``/``STACK_GLOBAL`` name any importable object and ``REDUCE`` calls it, so
``pickle.load`` on a crafted file runs ``os.system`` as easily as it builds a dict. Like torch's
weights-only unpickler, this loader resolves globals only from an explicit table given by the caller (no
import by name, nothing outside the table), so the only callables a file can reach are the constructors of
the plain data types the expected archive holds; persistent ids are refused. Anything else ends in one
:class:`~surrogate.errors.DataError` naming the refused global, before it is called.
"""

from __future__ import annotations

import bz2
import io
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from surrogate.errors import DataError


def _numpy_globals() -> dict[str, Any]:
    """numpy's reconstruction helpers under both their numpy 1.x and 2.x module names."""
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core
    out: dict[str, Any] = {"numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype}
    for mod in ("numpy.core", "numpy._core"):
        out[f"{mod}.multiarray._reconstruct"] = core.multiarray._reconstruct
        out[f"{mod}.multiarray.scalar"] = core.multiarray.scalar
        out[f"{mod}.numeric._frombuffer"] = core.numeric._frombuffer
    return out


def numpy_data() -> dict[str, Any]:
    """Globals of pickled numpy arrays, scalars and dtypes (plain numeric data, no object arrays' code)."""
    return _numpy_globals()


def nats_archive() -> dict[str, Any]:
    """Globals of NATS-Bench ``*.pickle.pbz2`` files: ordered dicts and numpy scalars."""
    import collections

    return {"collections.OrderedDict": collections.OrderedDict, **_numpy_globals()}


def pandas_frame() -> dict[str, Any]:
    """Globals of a pickled pandas DataFrame of plain columns (the mini-NB201 12-epoch table)."""
    import pandas as pd
    from pandas.core.indexes.base import _new_Index
    from pandas.core.internals.managers import BlockManager

    return {
        "builtins.slice": slice,
        "pandas.core.frame.DataFrame": pd.DataFrame,
        "pandas.core.internals.managers.BlockManager": BlockManager,
        "pandas.core.indexes.base._new_Index": _new_Index,
        "pandas.core.indexes.base.Index": pd.Index,
        "pandas.core.indexes.range.RangeIndex": pd.RangeIndex,
        **_numpy_globals(),
    }


class _Restricted(pickle.Unpickler):
    def __init__(self, fh: IO[bytes], allowed: Mapping[str, Any], what: str) -> None:
        super().__init__(fh)
        self._allowed = allowed
        self._what = what

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key in self._allowed:
            return self._allowed[key]
        raise _Refused(key)

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


class _Refused(pickle.UnpicklingError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def safe_loads(
    data: bytes | IO[bytes],
    allowed: Mapping[str, Any],
    *,
    what: str,
    expected: str = "",
) -> Any:
    """Unpickle ``data`` admitting only the globals in ``allowed``; errors are one DataError naming ``what``."""
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    hint = f"; {expected}" if expected else ""
    try:
        return _Restricted(fh, allowed, what).load()
    except _Refused as exc:
        raise DataError(
            f"{what} refers to {exc.name!r}, which nasscout does not load (a pickle may run code when "
            f"loaded; only plain data of the expected kind is accepted){hint}"
        ) from None
    except Exception as exc:  # truncated, corrupt, wrong kind: all unreadable to the user
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise DataError(
            f"{what} is not a readable pickle ({type(exc).__name__}{': ' + detail if detail else ''})"
            f"{hint}"
        ) from None


def safe_load_file(
    path: str | os.PathLike,
    allowed: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    expected: str = "",
) -> Any:
    """A pickle file (bz2-compressed when its name ends in ``.pbz2`` or ``.bz2``) read by :func:`safe_loads`."""
    path = Path(path)
    table = allowed() if callable(allowed) else allowed
    try:
        raw = path.read_bytes()
        if path.suffix in (".pbz2", ".bz2"):
            raw = bz2.decompress(raw)
    except (OSError, ValueError, EOFError) as exc:
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        hint = f"; {expected}" if expected else ""
        raise DataError(f"cannot read {path} ({detail}){hint}") from None
    return safe_loads(raw, table, what=str(path), expected=expected)
