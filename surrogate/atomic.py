"""Atomic file writes: a temp file in the same folder, fsynced, then renamed over the target.

A reader (or a run resumed after ``kill -9``) sees the old file or the new one, never half of one. One
implementation for every layer: benchmark files, results, model files, caches, plots. Temp file names
carry the writer's pid, so a temp file whose writer is gone was left by a killed writer: the next write of
the same target (or :func:`clean_stale_temps`) removes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (temp files start private: 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


STALE_UNKNOWN_S = 3600.0  # a temp file whose writer cannot be told is stale after an hour


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def clean_stale_temps(path: str | os.PathLike) -> int:
    """Remove temp files of ``path`` whose writer process is gone (killed mid-write); count them.

    Temp names carry the writer's pid (``.NAME.PID.<random>.tmp``); a temp file of a running process is kept.
    Names without a pid (older versions) count as stale once they are an hour old.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed = 0
    try:
        candidates = list(path.parent.glob(f"{glob.escape(prefix)}*.tmp"))
    except OSError:
        return 0
    for tmp in candidates:
        middle = tmp.name[len(prefix) : -len(".tmp")]
        head = middle.split(".", 1)[0]
        try:
            if head.isdigit():
                stale = int(head) != os.getpid() and not _alive(int(head))
            else:
                stale = time.time() - tmp.stat().st_mtime > STALE_UNKNOWN_S
            if stale:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``path``; when the block succeeds, fsync it and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text (UTF-8, newlines untranslated) or bytes to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(data)
        else:
            tmp.write_bytes(data)
    return Path(path)
