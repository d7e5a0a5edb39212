"""Which journal lines belong to a run: every evaluation is checked against ``meta.json`` before it may reach
``results.csv``, the report or a resume.

A line is left out (and named in one warning line) when its strategy or seed is not the run's, its trial
number is outside 0..budget-1, a value is impossible for the benchmark (``true_acc`` above its best or below
its worst cell, an index outside the space, a fidelity it does not have, a negative or infinite cost, time
or size), or it is a second copy of a (strategy, seed, trial) already journaled (the first line is kept: the
journal is append-only, so the first is what the run wrote). A search whose done marker counts more rows
than were kept is not finished: ``--resume`` re-evaluates what is missing. (Trial numbers of a finished
search may have gaps: under a time budget a trial still running when the time is up is dropped.)
Old runs' ``meta.json`` may lack a fact; the check that needs it is then skipped.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strategies.journal import (
    JournalContents,
    JournalLines,
    contents_of,
    parse_journal,
    warn_damaged,
)
from strategies.row import ROW_FIELDS

_NONNEGATIVE = (
    "cost_s",
    "sim_time_s",
    "wall_time_s",
    "params_m",
    "latency_s",
    "train_time_s",
    "flops_m",
)
_FLOATS = ROW_FIELDS[5:]
_TOL = 1e-6  # relative slack for float32 tables read back as float64


@dataclass(frozen=True)
class RunFacts:
    """What meta.json says a journal line may hold (None: not recorded by an older nasscout; not checked)."""

    strategies: tuple[str, ...]
    seeds: np.ndarray  # sorted int64
    budget_queries: int | None
    best_valid_acc: float | None
    worst_valid_acc: float | None
    max_params_m: float | None
    fidelities: tuple[int, ...] | None
    n_cells: int | None

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> RunFacts:
        cfg, b = meta.get("config", {}), meta.get("benchmark", {}) or {}
        seeds = cfg.get("seeds")
        if not isinstance(seeds, list):
            first, n = int(cfg.get("first_seed", 0)), int(cfg.get("n_seeds", 1))
            seeds = range(first, first + n)
        tabular = (
            b.get("kind", "tabular") == "tabular"
        )  # recorded values: the table's range is known
        ref = b.get("hv_ref") if tabular else None
        fids = b.get("fidelities") or ([b["top_fidelity"]] if "top_fidelity" in b else None)
        return cls(
            strategies=tuple(cfg.get("strategies", ())),
            seeds=np.unique(np.asarray(list(seeds), dtype=np.int64)),  # sorted
            budget_queries=cfg.get("budget_queries"),
            best_valid_acc=_float_or_none(b.get("best_valid_acc")) if tabular else None,
            worst_valid_acc=_float_or_none(ref[0]) if ref else None,
            max_params_m=_float_or_none(ref[1]) if ref else None,
            fidelities=tuple(int(f) for f in fids) if fids else None,
            n_cells=_n_cells(b.get("space", "nb201")),
        )

    def seed_text(self) -> str:
        s = self.seeds
        if len(s) and s[-1] - s[0] + 1 == len(s):
            return f"{s[0]}..{s[-1]}" if len(s) > 1 else str(s[0])
        return ",".join(map(str, s[:10])) + (",..." if len(s) > 10 else "")


def _float_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _n_cells(space: str) -> int | None:
    try:
        from surrogate.spaces import get_space

        return int(get_space(space).n_cells)
    except Exception:  # noqa: BLE001 - an unknown space only skips the index check
        return None


@dataclass
class LeftOut:
    """One journal line kept out of the run's results."""

    line: int
    strategy: str
    seed: int
    trial: int | None  # None: a done marker
    kind: str  # "unknown strategy" | "unknown seed" | "impossible value" | "conflicting copy" | "repeated copy"
    why: str


@dataclass
class CheckedJournal:
    """A journal after the check: ``contents`` holds only lines that belong to the run."""

    contents: JournalContents
    left_out: list[LeftOut] = field(default_factory=list)
    n_lines: int = 0
    path: Path | None = None

    def warning(self) -> str | None:
        """One line naming how many lines were left out, of which kinds, with a few examples."""
        if not self.left_out:
            return None
        kinds = Counter(x.kind for x in self.left_out)
        parts = []
        for kind, n in kinds.items():
            ex = [x for x in self.left_out if x.kind == kind][:2]
            shown = "; ".join(
                f"line {x.line} {x.strategy} seed {x.seed}"
                + (f" trial {x.trial}" if x.trial is not None else " done marker")
                + f": {x.why}"
                for x in ex
            )
            more = f"; +{n - len(ex)} more" if n > len(ex) else ""
            parts.append(f"{n} {kind} ({shown}{more})")
        return (
            f"nasscout: warning: left out {len(self.left_out)} of {self.n_lines:,} journal lines in "
            f"{self.path} that do not belong to this run: "
            + ", ".join(parts)
            + "; they are not in "
            "results.csv, the report or a resume"
        )


def check_lines(lines: JournalLines, meta: dict[str, Any]) -> CheckedJournal:
    """Judge every parsed line against the run described by ``meta`` (vectorised over lines)."""
    facts = RunFacts.from_meta(meta)
    evals = lines.evaluations
    left: list[LeftOut] = []
    keep = np.ones(len(evals), dtype=bool)
    if evals:
        rows = [r for _, r in evals]
        strat = np.array([r[0] for r in rows], dtype=object)
        # one float array for all numbers (exact below 2**53; anything larger is out of range anyway)
        numbers = np.array([r[1:] for r in rows], dtype=float).reshape(
            len(rows), len(ROW_FIELDS) - 1
        )
        ints, vals = numbers[:, :4], numbers[:, 4:]
        col = {name: vals[:, i] for i, name in enumerate(_FLOATS)}
        seed, trial, index, fid = ints.T
        reasons = _reasons(facts, rows, strat, seed, trial, index, fid, col)
        for kind, bad, why in reasons:
            hit = np.flatnonzero(bad & keep)
            for i in hit:
                line, r = evals[i]
                left.append(LeftOut(line, r.strategy, r.seed, r.trial, kind, why(i)))
            keep[hit] = False
        _duplicates(evals, strat, ints, vals, keep, left)
    kept = [e for e, k in zip(evals, keep) if k]
    markers = []
    run_strats, run_seeds = set(facts.strategies), facts.seeds
    for line, key, n in lines.markers:
        if key[0] not in run_strats or not _has(run_seeds, key[1]):
            what = "unknown strategy" if key[0] not in run_strats else "unknown seed"
            left.append(LeftOut(line, key[0], key[1], None, what, "not a search of this run"))
        else:
            markers.append((line, key, n))
    contents = contents_of(
        JournalLines(kept, markers, lines.damaged_lines, lines.partial_tail, lines.path)
    )
    left.sort(key=lambda x: x.line)
    n_lines = len(evals) + len(lines.markers) + len(lines.damaged_lines)
    return CheckedJournal(contents, left, n_lines, lines.path)


def _has(sorted_seeds: np.ndarray, seed: int) -> bool:
    i = int(np.searchsorted(sorted_seeds, seed))
    return i < len(sorted_seeds) and int(sorted_seeds[i]) == seed


def _reasons(facts, rows, strat, seed, trial, index, fid, col):  # noqa: ANN001, ANN202 - internal helper
    """(kind, mask of bad lines, message for line i) in the order they are judged."""
    out = []
    known = set(facts.strategies)
    names = ",".join(facts.strategies)
    out.append(
        (
            "unknown strategy",
            np.array([s not in known for s in strat], dtype=bool),
            lambda i: f"strategy {strat[i]!r} is not one of the run's ({names})",
        )
    )
    pos = np.searchsorted(facts.seeds, seed).clip(0, max(len(facts.seeds) - 1, 0))
    bad_seed = facts.seeds[pos] != seed if len(facts.seeds) else np.ones(len(seed), bool)
    out.append(
        (
            "unknown seed",
            bad_seed,
            lambda i: f"seed {rows[i].seed} is not in the run's seeds {facts.seed_text()}",
        )
    )
    hi = facts.budget_queries
    bad_trial = (trial < 0) | ((trial >= hi) if hi else False)
    span = f"0..{hi - 1}" if hi else "0 or more"
    out.append(
        ("impossible value", bad_trial, lambda i: f"trial {rows[i].trial} is outside {span}")
    )
    if facts.n_cells is not None:
        bad = (index < 0) | (index >= facts.n_cells)
        out.append(
            (
                "impossible value",
                bad,
                lambda i: f"index {rows[i].index} is outside 0..{facts.n_cells - 1}",
            )
        )
    if facts.fidelities is not None:
        fids = np.asarray(facts.fidelities, dtype=float)
        shown = ",".join(map(str, facts.fidelities))
        out.append(
            (
                "impossible value",
                ~np.isin(fid, fids),
                lambda i: f"fidelity {rows[i].fidelity} is not one of the benchmark's ({shown})",
            )
        )
    stop = col["stopped_at"]  # early stopping: 0, or an epoch before the end of the training
    out.append(
        (
            "impossible value",
            (stop != 0) & ((stop < 1) | (stop >= fid)),
            lambda i: f"stopped_at {rows[i].stopped_at} is not 0 nor 1..{rows[i].fidelity - 1}",
        )
    )
    for name in _FLOATS:  # unknown is null (NaN); infinity is never written
        out.append(("impossible value", np.isinf(col[name]), lambda i, n=name: f"{n} is infinite"))
    for name in _NONNEGATIVE:
        out.append(
            (
                "impossible value",
                col[name] < 0,
                lambda i, n=name: f"{n} {col[n][i]:.10g} is negative",
            )
        )
    true = col["true_acc"]
    if facts.best_valid_acc is not None:
        top = facts.best_valid_acc + _TOL * max(1.0, abs(facts.best_valid_acc))
        out.append(
            (
                "impossible value",
                true > top,
                lambda i: (
                    f"true_acc {true[i]:.10g} is above the benchmark's best {facts.best_valid_acc:.10g}"
                ),
            )
        )
    if facts.worst_valid_acc is not None:
        low = facts.worst_valid_acc - _TOL * max(1.0, abs(facts.worst_valid_acc))
        out.append(
            (
                "impossible value",
                true < low,
                lambda i: (
                    f"true_acc {true[i]:.10g} is below the benchmark's worst {facts.worst_valid_acc:.10g}"
                ),
            )
        )
    if facts.max_params_m is not None:
        top = facts.max_params_m * (1 + _TOL)
        params = col["params_m"]
        out.append(
            (
                "impossible value",
                params > top,
                lambda i: (
                    f"params_m {params[i]:.10g} is above the benchmark's largest {facts.max_params_m:.10g}"
                ),
            )
        )
    return out


def _duplicates(evals, strat, ints, vals, keep, left) -> None:  # noqa: ANN001 - internal helper
    """Leave out every later copy of a kept (strategy, seed, trial): conflicting when any value but the
    wall clock differs from the first copy's."""
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return
    _, scode = np.unique(strat[idx].astype(str), return_inverse=True)
    seed, trial = ints[idx, 0], ints[idx, 1]
    order = np.lexsort((trial, seed, scode.reshape(-1)))  # stable: copies stay in file order
    k = np.column_stack([scode.reshape(-1), seed, trial])[order]
    starts = np.r_[True, (k[1:] != k[:-1]).any(axis=1)]
    first_pos = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    owner = np.empty_like(idx)
    owner[order] = idx[order[first_pos]]  # each kept line's first copy
    later = owner != idx
    if not later.any():
        return
    wall = list(_FLOATS).index("wall_time_s")
    cols = [c for c in range(vals.shape[1]) if c != wall]
    a, b = vals[idx][:, cols], vals[owner][:, cols]
    same = ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1) & (
        ints[idx, 2:] == ints[owner, 2:]
    ).all(axis=1)
    for j in np.flatnonzero(later):
        i, o = idx[j], owner[j]
        line, r = evals[i]
        if same[j]:
            left.append(
                LeftOut(
                    line,
                    r.strategy,
                    r.seed,
                    r.trial,
                    "repeated copy",
                    f"repeats line {evals[o][0]}",
                )
            )
        else:
            diff = [
                f
                for f in ROW_FIELDS[3:]
                if f != "wall_time_s" and not _equal(getattr(r, f), getattr(evals[o][1], f))
            ]
            left.append(
                LeftOut(
                    line,
                    r.strategy,
                    r.seed,
                    r.trial,
                    "conflicting copy",
                    f"differs from line {evals[o][0]} in {','.join(diff)} (the first line is kept)",
                )  # fmt: skip
            )
        keep[i] = False


def _equal(a: Any, b: Any) -> bool:
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


def read_checked(
    path: str | os.PathLike, meta: dict[str, Any], *, warn: bool = True
) -> CheckedJournal:
    """Read the journal at ``path`` and keep only what belongs to the run of ``meta``; with ``warn``, one
    stderr line for damaged lines and one for left-out lines."""
    lines = parse_journal(path)
    checked = check_lines(lines, meta)
    if warn:
        warn_damaged(lines)
        text = checked.warning()
        if text:
            print(text, file=sys.stderr)
    return checked
