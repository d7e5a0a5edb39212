"""The append-only run journal: one JSON line per finished evaluation, the ground truth of a run.

Writers (the run's processes) append whole lines with ``O_APPEND`` under an exclusive ``flock``, in small
batches (at most ``max_rows`` lines or ``max_delay_s`` seconds buffered), and ``fsync`` at most every
``sync_every_s`` seconds and on close. A ``kill -9`` can lose only the unflushed batch (those evaluations are
redone, identically, on resume) and can leave at most a torn line, which readers skip. ``results.csv`` is a
view written from this file.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strategies.row import Row, _as_int

JOURNAL_NAME = "journal.jsonl"


class JournalWriter:
    """Appends evaluation lines to ``path``; safe to use from several processes at once."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        max_rows: int = 64,
        max_delay_s: float = 0.2,
        sync_every_s: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._buf: list[str] = []
        self._max_rows = max_rows
        self._max_delay = max_delay_s
        self._sync_every = sync_every_s
        now = time.monotonic()
        self._last_flush = now
        self._last_sync = now
        self._dirty = False

    def add(self, row: dict[str, Any]) -> None:
        """Queue one line; it reaches the file within ``max_rows`` lines or ``max_delay_s`` seconds."""
        self._buf.append(json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n")
        self._flush_if_due()

    def add_row(self, row: Row) -> None:
        """Queue one evaluation (a :class:`~strategies.row.Row`, written as JSON, unknown numbers null)."""
        self._buf.append(row.to_json() + "\n")
        self._flush_if_due()

    def _flush_if_due(self) -> None:
        if (
            len(self._buf) >= self._max_rows
            or time.monotonic() - self._last_flush >= self._max_delay
        ):
            self.flush()

    def flush(self, *, sync: bool = False) -> None:
        now = time.monotonic()
        if self._buf:
            data = "".join(self._buf).encode()
            self._buf.clear()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._dirty = True
        self._last_flush = now
        if self._dirty and (sync or now - self._last_sync >= self._sync_every):
            os.fsync(self._fd)
            self._last_sync = now
            self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush(sync=True)
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class JournalContents:
    """What a journal holds: evaluation rows per (strategy, seed) keyed by trial, and finished runs."""

    rows: dict[tuple[str, int], dict[int, Row]] = field(default_factory=dict)
    done: set[tuple[str, int]] = field(
        default_factory=set
    )  # finished, with all their rows readable
    damaged_lines: list[int] = field(default_factory=list)
    partial_tail: bool = False

    @property
    def n_rows(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass
class JournalLines:
    """A journal line by line, before any judgement: readable evaluations and done markers with their line
    numbers (1-based), in file order. ``strategies.journal_check`` decides which belong to a run."""

    evaluations: list[tuple[int, Row]] = field(default_factory=list)
    markers: list[tuple[int, tuple[str, int], int]] = field(
        default_factory=list
    )  # (line, key, rows)
    damaged_lines: list[int] = field(default_factory=list)
    partial_tail: bool = False
    path: Path | None = None


def parse_journal(path: str | os.PathLike) -> JournalLines:
    """Split a journal into lines and parse each; never raises on content (a bad line is 'damaged')."""
    p = Path(path)
    out = JournalLines(path=p)
    if not p.exists():
        return out
    data = p.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # no newline after it: written partially
        out.partial_tail = True
    try:  # fast path: one parse for the whole file (a line holding "a,b" would shift it: length check)
        parsed = json.loads(b"[" + b",".join(lines) + b"]") if lines else []
        if len(parsed) != len(lines):
            parsed = None
    except (ValueError, RecursionError):
        parsed = None
    for number, raw in enumerate(lines, start=1):
        try:
            row = parsed[number - 1] if parsed is not None else json.loads(raw)
            if not isinstance(row, dict):
                raise ValueError("not an object")
            if row.get("done"):
                key = (str(row["strategy"]), _as_int(row["seed"]))
                out.markers.append((number, key, _as_int(row.get("rows", -1))))
                continue
            out.evaluations.append((number, Row.from_json(row)))
        except (ValueError, KeyError, TypeError, RecursionError):
            out.damaged_lines.append(number)
    return out


def contents_of(
    lines: JournalLines, evaluations: list[tuple[int, Row]] | None = None
) -> JournalContents:
    """Assemble rows per search from (a selection of) the parsed lines; a repeated (strategy, seed, trial)
    keeps its first line. A search is done when its last marker counts exactly the rows it has."""
    out = JournalContents(damaged_lines=list(lines.damaged_lines), partial_tail=lines.partial_tail)
    for _, row in lines.evaluations if evaluations is None else evaluations:
        out.rows.setdefault((row.strategy, row.seed), {}).setdefault(row.trial, row)
    finished = {key: n for _, key, n in lines.markers}
    # a run whose rows were partly lost to a damaged line is not finished: resume redoes the missing ones
    out.done = {k for k, n in finished.items() if len(out.rows.get(k, ())) == n}
    return out


def warn_damaged(lines: JournalLines) -> None:
    if lines.damaged_lines:
        shown = ", ".join(map(str, lines.damaged_lines[:5]))
        print(
            f"nasscout: warning: skipped {len(lines.damaged_lines)} damaged line(s) in {lines.path} "
            f"(line {shown}); their evaluations are redone on --resume",
            file=sys.stderr,
        )


def read_journal(path: str | os.PathLike, *, warn: bool = True) -> JournalContents:
    """Parse a journal without checking it against a run (unknown numbers stay None, as written). A partial
    last line (a write cut by a crash) is ignored; a damaged line elsewhere (a torn concurrent write) is
    skipped with a warning: its evaluation is simply redone on resume. A repeated (strategy, seed, trial)
    keeps its first line. ``strategies.journal_check.read_checked`` also checks every line against meta.json.
    """
    lines = parse_journal(path)
    if warn:
        warn_damaged(lines)
    return contents_of(lines)


def drop_partial_tail(path: str | os.PathLike) -> bool:
    """Cut a partial last line off the journal before appending to it again (else the next line would be
    glued to it). Returns whether anything was cut."""
    p = Path(path)
    if not p.exists():
        return False
    with open(p, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return False
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        # scan back in blocks for the last newline
        end, keep = size, 0
        while end > 0:
            start = max(0, end - 65536)
            fh.seek(start)
            block = fh.read(end - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            end = start
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return True
