"""A run directory: ``meta.json`` (config, versions, command line), ``journal.jsonl`` (the truth, appended
during the run) and ``results.csv`` (the tidy view, one row per evaluation, rewritten atomically from the
journal when a run ends or is reported).

Same seed, same options -> byte-identical ``results.csv`` except the ``wall_time_s`` column (real seconds).
Rows are ordered by strategy (as listed), seed, then completion order on the simulated clock
(``sim_time_s``, ties by ``trial``, the order in which the strategy asked).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from strategies.journal import JOURNAL_NAME, JournalContents, read_journal
from surrogate.atomic import atomic_write as _atomic_write
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

RESULTS_NAME = "results.csv"
META_NAME = "meta.json"
LOCK_NAME = ".lock"
COLUMNS = (
    "run_id",
    "strategy",
    "benchmark",
    "dataset",
    "seed",
    "trial",
    "arch",
    "fidelity",
    "observed_acc",
    "true_acc",
    "test_acc",
    "cost_s",
    "sim_time_s",
    "wall_time_s",
    "index",
    "params_m",
    "latency_s",
    "train_time_s",
)
_FLOAT_COLUMNS = (
    "observed_acc",
    "true_acc",
    "test_acc",
    "cost_s",
    "sim_time_s",
    "wall_time_s",
    "params_m",
    "latency_s",
    "train_time_s",
)


def run_id(benchmark: str, dataset: str, strategy: str, seed: int) -> str:
    """Names one search (strategy x seed) uniquely even when results of several runs are concatenated."""
    return f"{benchmark}-{dataset}-{strategy}-s{seed}"


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically (see surrogate.atomic)."""
    _atomic_write(path, text)


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    atomic_write(directory / META_NAME, json.dumps(meta, indent=2, sort_keys=False) + "\n")


def read_meta(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / META_NAME
    if not path.exists():
        raise NasscoutError(f"{directory} is not a nasscout run: {META_NAME} is missing")
    try:
        meta = json.loads(path.read_text())
        meta["config"]["strategies"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise NasscoutError(f"{path} is damaged (not the JSON nasscout wrote)") from None
    return meta


def _csv_field(value: Any) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


# per evaluation: trial, arch, fidelity, 6 floats, index, 3 floats (arch strings never need quoting)
_ROW_FORMAT = "%d,%s,%d," + ",".join(["%r"] * 6) + ",%d," + ",".join(["%r"] * 3) + "\n"


def results_text(
    contents: JournalContents, meta: dict[str, Any], space: NB201Space | None = None
) -> str:
    """The CSV for every journaled evaluation, in the documented row order (NaN written as empty)."""
    space = space or NB201Space()
    cfg = meta["config"]
    bench, ds = cfg["benchmark_name"], cfg["dataset"]
    order = {s: i for i, s in enumerate(cfg["strategies"])}
    keys = sorted(contents.rows, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    arch_cache: dict[int, str] = {}
    parts = [",".join(COLUMNS) + "\n"]
    for strategy, seed in keys:
        rows = sorted(
            contents.rows[(strategy, seed)].values(), key=lambda r: (r["sim_time_s"], r["trial"])
        )
        prefix = "".join(
            _csv_field(v) + ","
            for v in (run_id(bench, ds, strategy, seed), strategy, bench, ds, seed)
        )
        for r in rows:
            index = int(r["index"])
            arch = arch_cache.get(index)
            if arch is None:
                arch = arch_cache[index] = space.format(index)
            line = _ROW_FORMAT % (
                r["trial"],
                arch,
                r["fidelity"],
                r["observed_acc"],
                r["true_acc"],
                r["test_acc"],
                r["cost_s"],
                r["sim_time_s"],
                r["wall_time_s"],
                index,
                r["params_m"],
                r["latency_s"],
                r["train_time_s"],
            )
            if "None" in line or "nan" in line:  # unknown -> empty (arch strings hold neither word)
                line = line.replace("None", "").replace("nan", "")
            parts.append(prefix + line)
    return "".join(parts)


def write_results(
    directory: str | os.PathLike, meta: dict[str, Any] | None = None
) -> JournalContents:
    """Rewrite ``results.csv`` from the journal (atomically); returns what the journal held."""
    directory = Path(directory)
    meta = meta or read_meta(directory)
    contents = read_journal(directory / JOURNAL_NAME)
    atomic_write(directory / RESULTS_NAME, results_text(contents, meta))
    return contents


def _frame(text: str, source: Path):  # -> pandas.DataFrame
    """Parse results CSV text; a last row cut mid-way (no newline, or too few fields) is ignored."""
    import pandas as pd

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # no trailing newline: the last row was cut
    if len(lines) > 1 and len(next(csv.reader([lines[-1]]))) != len(next(csv.reader([lines[0]]))):
        lines.pop()
    if not lines:
        raise NasscoutError(f"{source} is empty; expected the header {','.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in next(csv.reader([lines[0]]))]
    if missing:
        raise NasscoutError(
            f"{source} lacks the columns {', '.join(missing)}; is it a nasscout results file?"
        )
    df = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), dtype={"arch": str, "strategy": str})
    for col in _FLOAT_COLUMNS:
        df[col] = df[col].astype(float)
    return df


def load_results(directory: str | os.PathLike):  # -> (DataFrame, meta)
    """All evaluations of a run directory as one DataFrame (columns ``COLUMNS``), plus its meta.

    With a journal present, ``results.csv`` is first rewritten from it (so an interrupted run can be
    reported; in a read-only directory the table is built in memory); without one (results shared without
    their journal), ``results.csv`` is read as is.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NasscoutError(f"run directory {directory} does not exist")
    meta = read_meta(directory)
    path = directory / RESULTS_NAME
    if (directory / JOURNAL_NAME).exists():
        text = results_text(read_journal(directory / JOURNAL_NAME), meta)
        try:
            atomic_write(path, text)
        except OSError as exc:
            print(
                f"nasscout: warning: cannot rewrite {path} ({exc.strerror}); using the journal",
                file=sys.stderr,
            )
        return _frame(text, directory / JOURNAL_NAME), meta
    if not path.exists():
        raise NasscoutError(f"{directory} has neither {JOURNAL_NAME} nor {RESULTS_NAME}")
    return _frame(path.read_text(encoding="utf-8", errors="replace"), path), meta


def nan_to_none(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_none(v) for v in obj]
    return obj
