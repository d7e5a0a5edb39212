"""The run directory: created once, never overwritten, locked while a process writes to it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from strategies.journal import JOURNAL_NAME
from strategies.results import LOCK_NAME, META_NAME, RESULTS_NAME, missing_meta_message
from surrogate.errors import NasscoutError


def dir_error(out: Path, exc: OSError) -> NasscoutError:
    return NasscoutError(f"cannot write to {out}: {exc.strerror or exc}; choose a writable --out")


def lock_run_dir(out: Path) -> int:
    try:
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise dir_error(out, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise NasscoutError(
            f"another nasscout process is running in {out} ({out / LOCK_NAME} is locked); "
            "wait for it or stop it first"
        ) from None
    return fd


def prepare_new(out: Path) -> int:
    """Create the run directory; refuse (never overwrite) when it already holds a run. Returns the lock fd."""
    if out.exists() and not out.is_dir():
        raise NasscoutError(f"--out {out} is a file; give a directory")
    taken = [n for n in (META_NAME, JOURNAL_NAME, RESULTS_NAME) if (out / n).exists()]
    if taken and META_NAME not in taken and (out / JOURNAL_NAME).is_file():
        raise NasscoutError(missing_meta_message(out))
    if taken:
        raise NasscoutError(
            f"{out} already holds a run ({', '.join(taken)}); add --resume to continue it, "
            "or choose another --out (nothing was overwritten)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise dir_error(out, exc) from None
    if not os.access(out, os.W_OK):
        raise NasscoutError(f"cannot write to {out}: permission denied; choose a writable --out")
    return lock_run_dir(out)
