"""Your own table of trained architectures as a benchmark (``nasscout data import table``).

Input: a CSV or Parquet file (or a pandas DataFrame), one row per trained architecture, or per architecture
and seed. Columns (names fixed; the arch column can be renamed with ``arch_column``):

- ``arch``: the architecture, as the space's string (NB201: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``) or its
  integer index;
- validation accuracy in percent (0..100): either ``valid_acc`` (with an optional ``seed`` column: one row
  per arch and seed), or one column per seed, ``valid_acc_<seed>`` (e.g. ``valid_acc_0, valid_acc_1``; an
  empty value there is a seed that was not run);
- optional: ``test_acc`` (percent; per seed like valid_acc), ``train_time_s`` (seconds for the whole
  training: the simulated cost of an evaluation), ``epochs`` (the training length; else ``epochs=`` must
  be given; several values make several fidelities), ``params_m``/``flops_m``/``latency_s`` (per arch).

Cells not in the table are simply not in the benchmark: strategies then propose only the cells it holds.
Every row must parse: an unknown arch, a value that is no number, an accuracy outside 0..100, a NaN
accuracy, a negative time or a repeated (arch, seed) stops the import with one line naming the file's line
numbers (nothing is written, nothing silently dropped). Other columns are ignored (and named in the summary).
The file is written like every nasscout benchmark (atomically, with a checksum; see ``surrogate.store``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.store import write_store

PER_SEED = ("valid_acc", "test_acc", "train_time_s")
STATIC = ("params_m", "flops_m", "latency_s")
KNOWN = (*PER_SEED, *STATIC, "seed", "epochs")
MAX_SHOWN = 3  # bad rows named in the one-line error


@dataclass
class ImportSummary:
    path: Path
    rows: int
    cells: int
    seeds: dict[int, list[int]]  # fidelity -> seeds
    fidelities: list[int]
    ignored: list[str]
    best_arch: str
    best_valid_acc: float


def _read(source: Any) -> tuple[Any, str, str]:
    """(DataFrame of text, what to call it, 'line'|'row') from a path or a DataFrame."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), "the table", "row"
    path = Path(source)
    if not path.is_file():
        raise NasscoutError(f"table {path} does not exist; accepted: a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path), str(path), "row"
        if suffix in (".csv", ".txt", ".gz"):
            # every value as text (numbers are parsed below, so a bad one can be named with its line)
            df = pd.read_csv(path, dtype=str, skip_blank_lines=False, skipinitialspace=True)
            return df, str(path), "line"
    except ImportError as exc:
        raise NasscoutError(f"cannot read {path}: {exc}; install pyarrow for Parquet") from None
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow parse errors of many types
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise NasscoutError(f"cannot read {path}: {type(exc).__name__}: {first}") from None
    raise NasscoutError(f"table {path} has suffix {suffix!r}; accepted: .csv or .parquet")


class _Errors:
    """Bad rows collected over all checks; one line naming the first few, with the file's line numbers."""

    def __init__(self, where: str, unit: str, numbers: np.ndarray) -> None:
        self.where, self.unit, self.numbers = where, unit, numbers
        self.items: list[tuple[int, str]] = []

    def add(self, rows: np.ndarray, message: Any) -> None:
        for r in np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows:
            text = message(int(r)) if callable(message) else message
            self.items.append((int(self.numbers[r]), text))

    def raise_if_any(self, advice: str = "") -> None:
        if not self.items:
            return
        items = sorted(self.items)
        shown = "; ".join(f"{self.unit} {n}: {m}" for n, m in items[:MAX_SHOWN])
        more = f" (and {len(items) - MAX_SHOWN} more)" if len(items) > MAX_SHOWN else ""
        raise NasscoutError(
            f"{self.where}: {len(items)} bad {self.unit}{'s' * (len(items) != 1)}, nothing imported; "
            f"{shown}{more}{'; ' + advice if advice else ''}"
        )


def _numbers(df: Any, col: str, errors: _Errors, what: str) -> np.ndarray:
    import pandas as pd

    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    text = raw.astype(str).str.strip()
    given = (
        raw.notna().to_numpy() & (text != "").to_numpy() & (text.str.lower() != "nan").to_numpy()
    )
    bad = given & np.isnan(values)
    errors.add(bad, lambda r: f"{col} {str(raw.iloc[r])[:40]!r} is not a number ({what})")
    return values


def _archs(df: Any, col: str, space: Any, errors: _Errors) -> np.ndarray:
    texts = df[col].astype(str).str.strip().to_numpy()
    out = np.full(len(texts), -1, dtype=np.int64)
    uniq, inverse = np.unique(texts, return_inverse=True)
    parsed = np.full(len(uniq), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    for i, text in enumerate(uniq):  # once per distinct arch, not per row
        try:
            parsed[i] = space.parse(int(text) if re.fullmatch(r"\d+", text) else text)
        except (NasscoutError, ValueError, TypeError, IndexError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else "not an arch"
            if msg.startswith("cannot read") and "': " in msg:  # the arch is named already
                msg = msg.split("': ", 1)[1]
            reasons[i] = msg.split("; ")[0][:100]
    out[:] = parsed[inverse]
    bad = out < 0
    errors.add(
        bad,
        lambda r: f"arch {texts[r][:60]!r} is no cell of {space.name} ({reasons[int(inverse[r])]})",
    )
    return out


def _check_range(
    values: np.ndarray, col: str, low: float, high: float, errors: _Errors, unit: str
) -> None:
    bad = np.isfinite(values) & ((values < low) | (values > high)) | np.isinf(values)
    hint = ""
    if col.startswith(("valid_acc", "test_acc")) and np.nanmax(np.abs(values), initial=0) <= 1:
        hint = "; these look like fractions: multiply by 100"
    errors.add(bad, lambda r: f"{col} {values[r]:g} is outside {low:g}..{high:g} {unit}{hint}")


def import_table(
    source: str | os.PathLike | Any,
    *,
    space: str,
    dataset: str,
    out: str | os.PathLike,
    epochs: int | None = None,
    name: str | None = None,
    arch_column: str = "arch",
) -> ImportSummary:
    """Import ``source`` (a .csv/.parquet path or a DataFrame) as a tabular benchmark file ``out``."""
    from surrogate.spaces import get_space

    sp = get_space(space)
    dataset = str(dataset).strip()
    if not dataset or "/" in dataset or dataset in ("cells",):
        raise NasscoutError(f"--dataset {dataset!r} is invalid; accepted: a name without '/'")
    df, where, unit = _read(source)
    df.columns = [str(c).strip() for c in df.columns]
    first_line = 2 if unit == "line" else 1  # CSV: the header is line 1
    numbers = np.arange(len(df)) + first_line
    empty = df.isna().all(axis=1).to_numpy()  # blank lines of a CSV are no rows
    df, numbers = df[~empty].reset_index(drop=True), numbers[~empty]
    cols = list(df.columns)
    wide = {int(m.group(2)): c for c in cols if (m := re.fullmatch(r"(valid_acc)_(\d+)", c))}
    accepted = (
        f"{arch_column} (a {sp.name} arch string or index), valid_acc [+ seed] or valid_acc_<seed> "
        "columns; optional test_acc, train_time_s, epochs, params_m, flops_m, latency_s"
    )
    if arch_column not in cols:
        raise NasscoutError(
            f"{where} has no {arch_column!r} column (found: {', '.join(cols)[:200]}); accepted: {accepted}"
        )
    if "valid_acc" not in cols and not wide:
        raise NasscoutError(
            f"{where} has no validation accuracy column (found: {', '.join(cols)[:200]}); accepted: "
            f"{accepted}"
        )
    if "valid_acc" in cols and wide:
        raise NasscoutError(
            f"{where} has both valid_acc and valid_acc_<seed> columns; accepted: one of the two layouts"
        )
    if wide and "seed" in cols:
        raise NasscoutError(f"{where} has valid_acc_<seed> columns and a seed column; use one")
    if "epochs" not in cols and epochs is None:
        raise NasscoutError(
            f"{where} has no epochs column and no --epochs was given; accepted: the training length of "
            "your runs, e.g. --epochs 200"
        )
    if len(df) == 0:
        raise NasscoutError(f"{where} holds no rows")
    errors = _Errors(where, unit, numbers)
    cells = _archs(df, arch_column, sp, errors)
    if "epochs" in cols:
        ep = _numbers(df, "epochs", errors, "epochs")
        bad = ~np.isfinite(ep) | (ep < 1) | (ep != np.round(ep))
        errors.add(bad & ~np.isnan(ep), lambda r: f"epochs {ep[r]:g} is not a positive integer")
        errors.add(np.isnan(ep), "epochs is empty")
    else:
        ep = np.full(len(df), float(_positive(epochs, "--epochs")))
    per_seed: dict[str, np.ndarray] = {}  # field -> [rows, seeds of this layout]
    if wide:
        seed_ids = sorted(wide)
        for f in PER_SEED:
            fcols = [f"{f}_{s}" for s in seed_ids]
            have = [c for c in fcols if c in cols]
            if have:
                per_seed[f] = np.column_stack(
                    [
                        _numbers(df, c, errors, f) if c in cols else np.full(len(df), np.nan)
                        for c in fcols
                    ]
                )
            elif f in cols:  # one value per arch for every seed (e.g. a training time)
                per_seed[f] = np.repeat(_numbers(df, f, errors, f)[:, None], len(seed_ids), axis=1)
        row_seed = None
        missing = np.all(np.isnan(per_seed["valid_acc"]), axis=1)
        errors.add(missing, "every valid_acc_<seed> is empty (a row needs at least one)")
    else:
        seed_ids = []
        for f in PER_SEED:
            if f in cols:
                per_seed[f] = _numbers(df, f, errors, f)[:, None]
        errors.add(np.isnan(per_seed["valid_acc"][:, 0]), "valid_acc is empty or NaN")
        if "seed" in cols:
            row_seed = _numbers(df, "seed", errors, "seed")
            bad = np.isfinite(row_seed) & (row_seed != np.round(row_seed))
            errors.add(
                bad | np.isinf(row_seed), lambda r: f"seed {row_seed[r]:g} is not an integer"
            )
            errors.add(np.isnan(row_seed), "seed is empty")
        else:
            row_seed = np.zeros(len(df))
    for f, a in per_seed.items():
        if f == "train_time_s":
            _check_range(a.reshape(len(df), -1).max(axis=1), f, 0, np.inf, errors, "seconds")
        else:
            for j in range(a.shape[1]):
                _check_range(
                    a[:, j], f if a.shape[1] == 1 else f"{f}_{seed_ids[j]}", 0, 100, errors, "%"
                )
    statics = {f: _numbers(df, f, errors, f) for f in STATIC if f in cols}
    for f, a in statics.items():
        _check_range(a, f, 0, np.inf, errors, "")
    errors.raise_if_any()
    # repeated rows: the same arch (and seed, and epochs) twice is ambiguous, never silently merged
    seed_key = row_seed if row_seed is not None else np.zeros(len(df))
    keys = np.stack([cells, ep.astype(np.int64), seed_key.astype(np.int64)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    dup = np.flatnonzero(first[inverse] != np.arange(len(df)))
    if len(dup):
        how = (
            "(arch, seed, epochs) must be unique"
            if row_seed is not None and "seed" in cols
            else "add a seed column (one row per arch and seed) or valid_acc_<seed> columns, or remove it"
        )
        errors.add(dup, lambda r: f"repeats the arch of {unit} {numbers[first[inverse[r]]]}")
        errors.raise_if_any(how)
    return _write(sp, dataset, out, name, where, cells, ep, per_seed, row_seed, seed_ids, statics,
                  [c for c in cols if c not in (arch_column, *KNOWN) and c not in _wide_cols(cols)])  # fmt: skip


def _wide_cols(cols: list[str]) -> set[str]:
    return {c for c in cols if re.fullmatch(r"(valid_acc|test_acc|train_time_s)_\d+", c)}


def _positive(value: Any, what: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        v = 0
    if v < 1 or v != value:
        raise NasscoutError(f"{what} {value!r} is invalid; accepted: a positive integer")
    return v


def _write(
    sp: Any,
    dataset: str,
    out: Any,
    name: str | None,
    where: str,
    cells: np.ndarray,
    ep: np.ndarray,
    per_seed: dict[str, np.ndarray],
    row_seed: np.ndarray | None,
    seed_ids: list[int],
    statics: dict[str, np.ndarray],
    ignored: list[str],
) -> ImportSummary:
    out = Path(out)
    held = np.unique(cells)
    epochs = np.unique(ep.astype(np.int64))
    for e in epochs:
        have = np.unique(cells[ep == e])
        if len(have) != len(held):
            lacking = int(np.setdiff1d(held, have)[0])
            raise NasscoutError(
                f"{where}: {len(held) - len(have)} arch(s) have no row at {e} epochs (e.g. "
                f"{sp.format(lacking)}) though others do; accepted: every arch at every epochs value"
            )
    arrays: dict[str, np.ndarray] = {"cells": held}
    group_attrs: dict[str, dict[str, Any]] = {dataset: {"metric": "validation accuracy (%)"}}
    seeds_of: dict[int, list[int]] = {}
    row_pos = np.searchsorted(held, cells)
    for e in epochs:
        sel = ep.astype(np.int64) == e
        if row_seed is None:  # wide: the columns are the seeds
            ids = list(seed_ids)
            grid = {f: np.full((len(held), len(ids)), np.nan) for f in per_seed}
            for f, a in per_seed.items():
                grid[f][row_pos[sel]] = a[sel]
        else:
            ids = sorted({int(s) for s in row_seed[sel]})
            col = np.searchsorted(ids, row_seed[sel].astype(np.int64))
            grid = {f: np.full((len(held), len(ids)), np.nan) for f in per_seed}
            for f, a in per_seed.items():
                grid[f][row_pos[sel], col] = a[sel, 0]
        seeds_of[int(e)] = ids
        for f, g in grid.items():
            if np.any(np.isfinite(g)):
                arrays[f"{dataset}/fid_{e}/{f}"] = g.astype(np.float32)
        group_attrs[f"{dataset}/fid_{e}"] = {"seeds": np.asarray(ids, dtype=np.int64)}
    for f, a in statics.items():
        v = np.full(len(held), np.nan)
        v[row_pos] = a  # one value per arch (the last row's where several disagree)
        arrays[f"{dataset}/static/{f}"] = v.astype(np.float32)
    import json

    bench_name = name or out.stem
    source = where if where != "the table" else "a pandas DataFrame"
    timed = "train_time_s" in per_seed
    write_store(
        out,
        arrays,
        name=bench_name,
        description=f"{sp.name} cells imported from {source} by nasscout data import table",
        sources={f: f"{source}, column {f}" for f in per_seed} | {"import": source},
        group_attrs=group_attrs,
        space=sp.name,
        attrs={
            "dataset_order": json.dumps([dataset]),
            "cost_note": (
                "cost = train_time_s from the table"
                if timed
                else "the table has no train_time_s: train_time_s is unknown and an evaluation costs 0 "
                "simulated seconds (budget by queries)"
            ),
        },
    )
    top = int(epochs[-1])
    mean = arrays[f"{dataset}/fid_{top}/valid_acc"].astype(np.float64)
    with np.errstate(all="ignore"):
        m = np.nanmean(mean, axis=1)
    best = int(np.nanargmax(m))
    return ImportSummary(
        out, len(cells), len(held), seeds_of, [int(e) for e in epochs], ignored,
        sp.format(int(held[best])), float(m[best]),
    )  # fmt: skip
