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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.journal import JOURNAL_NAME, JournalContents
from strategies.journal_check import CheckedJournal, read_checked
from strategies.row import BASE_FIELDS, STOP_FIELDS
from surrogate.atomic import atomic_write as _atomic_write
from surrogate.errors import NasscoutError

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
    "flops_m",
)
_FLOAT_COLUMNS = BASE_FIELDS[5:]  # the numbers of one evaluation
# appended when the run stops trainings early (``--early-stop``); absent in older files and filled on read
STOP_COLUMNS = STOP_FIELDS


def run_id(benchmark: str, dataset: str, strategy: str, seed: int) -> str:
    """Names one search (strategy x seed) uniquely even when results of several runs are concatenated."""
    return f"{benchmark}-{dataset}-{strategy}-s{seed}"


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically (see surrogate.atomic)."""
    _atomic_write(path, text)


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    text = json.dumps(nan_to_none(meta), indent=2, sort_keys=False, allow_nan=False)
    atomic_write(directory / META_NAME, text + "\n")


def read_meta(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / META_NAME
    if not path.exists():
        if (Path(directory) / JOURNAL_NAME).is_file():
            raise NasscoutError(missing_meta_message(Path(directory)))
        raise NasscoutError(f"{directory} is not a nasscout run: {META_NAME} is missing")
    try:
        meta = json.loads(path.read_text())
        meta["config"]["strategies"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise NasscoutError(f"{path} is damaged (not the JSON nasscout wrote)") from None
    return meta


def missing_meta_message(directory: Path) -> str:
    """One line for a run whose meta.json is gone but whose journal is not: what the journal still says,
    why it cannot be used alone, and the way on."""
    from strategies.journal import parse_journal

    lines = parse_journal(directory / JOURNAL_NAME)
    rows = [r for _, r in lines.evaluations]
    strategies = list(dict.fromkeys(r.strategy for r in rows))
    seeds = sorted({r.seed for r in rows})
    trials = max((r.trial for r in rows), default=-1) + 1
    held = (
        f"{len(rows):,} evaluations of {','.join(strategies)[:200]}, seeds "
        f"{seeds[0]}..{seeds[-1]}, up to {trials} per search"
        if rows
        else "no evaluations"
    )
    opts = (
        f"--strategy {','.join(strategies)[:200]} --first-seed {seeds[0]} --seeds {seeds[-1] - seeds[0] + 1}"
        if rows
        else "--strategy ..."
    )
    return (
        f"{directory / META_NAME} is missing, and with it the run's options that every journal line is "
        f"checked against; the journal ({held}) is intact: rebuild meta.json by repeating the run's own "
        f"options, e.g. nasscout run --out {directory} --resume --rebuild-meta {opts} --budget-queries N "
        "[...] (the journal is checked against them; the original command line, start time and versions "
        "cannot be recovered)"
    )


def _csv_field(value: Any) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def _number(v: float) -> str:
    """A float as CSV text: the shortest repr that round-trips; unknown (NaN, inf) as empty."""
    return repr(v) if math.isfinite(v) else ""


def space_of(meta: dict[str, Any]) -> Any:
    """The search space a run's cells live in (recorded in meta.json; runs before it was recorded: nb201)."""
    from surrogate.spaces import get_space

    return get_space(meta.get("benchmark", {}).get("space", "nb201"))


def results_text(contents: JournalContents, meta: dict[str, Any], space: Any = None) -> str:
    """The CSV for every journaled evaluation, in the documented row order (unknown numbers empty)."""
    space = space or space_of(meta)
    cfg = meta["config"]
    bench, ds = cfg["benchmark_name"], cfg["dataset"]
    order = {s: i for i, s in enumerate(cfg["strategies"])}
    keys = sorted(contents.rows, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    arch_cache: dict[int, str] = {}
    stops = early_stopping(meta)
    parts = [",".join(COLUMNS + (STOP_COLUMNS if stops else ())) + "\n"]
    for strategy, seed in keys:
        rows = sorted(
            contents.rows[(strategy, seed)].values(), key=lambda r: (r.sim_time_s, r.trial)
        )
        prefix = "".join(
            _csv_field(v) + ","
            for v in (run_id(bench, ds, strategy, seed), strategy, bench, ds, seed)
        )
        for r in rows:
            arch = arch_cache.get(r.index)
            if arch is None:
                arch = arch_cache[r.index] = _csv_field(space.format(r.index))
            fields = (
                str(r.trial),
                arch,
                str(r.fidelity),
                *map(_number, (r.observed_acc, r.true_acc, r.test_acc, r.cost_s, r.sim_time_s)),
                _number(r.wall_time_s),
                str(r.index),
                *map(_number, (r.params_m, r.latency_s, r.train_time_s, r.flops_m)),
            )
            if stops:
                fields += (str(r.stopped_at), _number(r.predicted_acc), _number(r.final_acc))
            parts.append(prefix + ",".join(fields) + "\n")
    return "".join(parts)


def write_results(
    directory: str | os.PathLike, meta: dict[str, Any] | None = None, *, warn: bool = True
) -> JournalContents:
    """Rewrite ``results.csv`` from the journal's lines that belong to the run (atomically); returns them."""
    directory = Path(directory)
    meta = meta or read_meta(directory)
    contents = read_checked(directory / JOURNAL_NAME, meta, warn=warn).contents
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
    # a run with --early-stop has these columns (older files and runs without it lack them)
    if "stopped_at" in df:
        df["stopped_at"] = df["stopped_at"].astype("int64")
        for col in STOP_COLUMNS[1:]:
            df[col] = df[col].astype(float)
    return df


def early_stopping(meta: dict[str, Any]) -> bool:
    """Whether the run stops trainings early (recorded in meta.json's config; older runs never did)."""
    return (meta.get("config", {}).get("early_stop") or {}).get("rule", "none") != "none"


@dataclass
class RunData:
    """A run directory as the report sees it: the evaluations, meta.json, and the checked journal (None when
    only results.csv was shared: then nothing says which searches finished)."""

    df: Any  # pandas.DataFrame with columns COLUMNS
    meta: dict[str, Any]
    journal: CheckedJournal | None


def load_results(directory: str | os.PathLike):  # -> (DataFrame, meta)
    """All evaluations of a run directory as one DataFrame (columns ``COLUMNS``), plus its meta.

    With a journal present, ``results.csv`` is first rewritten from its lines that belong to the run (so an
    interrupted run can be reported; in a read-only directory the table is built in memory); without one
    (results shared without their journal), ``results.csv`` is read as is.
    """
    run = load_run(directory)
    return run.df, run.meta


def load_run(directory: str | os.PathLike) -> RunData:
    """As :func:`load_results`, keeping the checked journal (which searches finished, what was left out)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NasscoutError(f"run directory {directory} does not exist")
    meta = read_meta(directory)
    path = directory / RESULTS_NAME
    if (directory / JOURNAL_NAME).exists():
        checked = read_checked(directory / JOURNAL_NAME, meta)
        text = results_text(checked.contents, meta)
        try:
            atomic_write(path, text)
        except OSError as exc:
            print(
                f"nasscout: warning: cannot rewrite {path} ({exc.strerror}); using the journal",
                file=sys.stderr,
            )
        return RunData(_frame(text, directory / JOURNAL_NAME), meta, checked)
    if not path.exists():
        raise NasscoutError(f"{directory} has neither {JOURNAL_NAME} nor {RESULTS_NAME}")
    return RunData(_frame(path.read_text(encoding="utf-8", errors="replace"), path), meta, None)


def nan_to_none(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_none(v) for v in obj]
    return obj
