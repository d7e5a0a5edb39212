"""Property tests of the journal reader: no bytes on disk can make ``read_journal`` crash.

A journal is written by our own processes, but it lives in a folder users copy, edit and share, and a
``kill -9`` can tear its last line. Whatever the bytes, reading must return what it could parse and list the
rest as damaged lines, never raise.

Found by these tests and now pinned as regressions in ``test_known_crashes`` (fixed in
``strategies/journal.py``): a number too large for a float (``1e999``, ``Infinity``) as a seed,
trial or row count makes ``int()`` raise OverflowError, and deeply nested JSON makes ``json.loads`` raise
RecursionError; ``read_journal`` catches neither, so ``nasscout report``/``run --resume`` end in a traceback.
Its fast path parses all lines as one JSON array and maps element i to line i, which is wrong when a line
holds no value or several (an empty line gives IndexError; ``{row},{row}`` on one line shifts every later
line by one, so a good row is silently lost). ``strategies/journal.py`` is being rewritten on main; the fixes
are to treat OverflowError/RecursionError as a damaged line and to use the fast path only when it yields
exactly one value per line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strategies.journal import JournalContents, read_journal
from strategies.row import ROW_FIELDS

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _row(strategy: str, seed: int, trial: int) -> dict:
    row = {f: 1.0 for f in ROW_FIELDS}
    row.update(
        strategy=strategy, seed=seed, trial=trial, index=trial % 15625, fidelity=200, stopped_at=0
    )
    return row


def _read(data: bytes) -> JournalContents:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "journal.jsonl"
        path.write_bytes(data)
        return read_journal(path, warn=False)


def _accounted(out: JournalContents, data: bytes) -> None:
    """Every complete line is a row, a 'done' marker, a repeat, or a damaged line; nothing invented."""
    lines = data.split(b"\n")
    complete = len(lines) - 1  # the last piece has no newline: partial (or empty)
    assert out.partial_tail == (lines[-1] != b"")
    assert out.n_rows + len(out.damaged_lines) <= complete
    assert all(1 <= n <= complete for n in out.damaged_lines)
    assert out.done <= set(out.rows) | {k for k, r in out.rows.items() if not r}


@SETTINGS
@given(st.binary(max_size=2000))
@example(b'{"strategy":"rs","seed":0,"trial":' + b"9" * 5000 + b"}\n")
@example(b'{"strategy":"rs","seed":NaN,"trial":0}\n')
@example(b'{"strategy":"rs","seed":0,"trial":0}\n{"strategy":"rs"')
@example(b"\xff\xfe\n\x00\n")
def test_arbitrary_bytes_never_crash_the_reader(data):
    _accounted(_read(data), data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"strategy":"rs","seed":Infinity,"trial":0}\n',
        b'{"strategy":"rs","seed":1e999,"trial":0}\n',
        b'{"strategy":"rs","seed":0,"done":true,"rows":1e999}\n',
        b"[" * 100_000 + b"\n",
        b"\n",
    ],
    ids=["Infinity-seed", "1e999-seed", "1e999-rows", "deep-nesting", "empty-line"],
)
def test_known_crashes(data):
    _accounted(_read(data), data)


def test_known_misalignment_loses_a_good_row():
    r = [json.dumps(_row("rs", 0, t)).encode() for t in range(3)]
    out = _read(r[0] + b"," + r[1] + b"\n" + r[2] + b"\n")  # line 1 holds two rows: damaged
    assert out.damaged_lines == [1] and sorted(out.rows["rs", 0]) == [2]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["rs", "rea", "bananas"]), st.integers(0, 3), st.integers(0, 40)),
        max_size=30,
    ),
    st.lists(st.tuples(st.integers(0, 40), json_values | st.binary(max_size=30)), max_size=10),
)
def test_good_rows_survive_any_garbage_between_them(good, garbage):
    lines = [json.dumps(_row(*g)).encode() for g in good]
    for pos, junk in garbage:
        text = junk if isinstance(junk, bytes) else json.dumps(junk).encode()
        lines.insert(min(pos, len(lines)), text.replace(b"\n", b" "))
    data = b"".join(line + b"\n" for line in lines)
    out = _read(data)
    _accounted(out, data)
    for strategy, seed, trial in good:  # every good line is read (the first copy of a repeat wins)
        assert (strategy, seed) in out.rows and trial in out.rows[strategy, seed]


@SETTINGS
@given(st.integers(1, 25), st.data())
def test_a_journal_cut_anywhere_loses_only_the_cut_line(n, data):
    full = b"".join(json.dumps(_row("rs", 0, t)).encode() + b"\n" for t in range(n))
    cut = data.draw(st.integers(0, len(full)))
    out = _read(full[:cut])
    whole = full[:cut].count(b"\n")
    assert out.damaged_lines == []
    assert sorted(out.rows.get(("rs", 0), {})) == list(range(whole))
