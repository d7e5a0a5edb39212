"""What a report's statistics stand on: per strategy, which of the run's seeds are missing (no evaluation),
incomplete (no done marker, or fewer evaluations than the budget) or hold rows with missing values.

Statistics are computed over complete searches only: finished, and without a missing value in any column the
benchmark records (a column empty in every row, as test_acc on NB201 cifar10, is not recorded, not missing).
A strategy without a single complete search is summarised over what it has, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.row import BASE_FIELDS

_IDENTITY = ("seed", "trial", "index", "fidelity")
_VALUES = BASE_FIELDS[
    5:
]  # the numbers of one evaluation (early-stopping ones are NaN when not stopped)


@dataclass
class StrategyStatus:
    """One strategy's data, seed by seed."""

    seeds_present: list[int]
    seeds_missing: list[int]
    seeds_incomplete: dict[int, str]  # seed -> why ("41 of 60 evaluations, not finished")
    seeds_with_missing_values: list[int]
    rows_with_missing_values: int
    missing_values: dict[str, int]  # column -> empty cells
    stats_seeds: list[int] = field(default_factory=list)  # the seeds every statistic is over
    includes_incomplete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "n_seeds_complete": len(self.seeds_present) - len(self.seeds_incomplete),
            "n_seeds_incomplete": len(self.seeds_incomplete),
            "seeds_incomplete": sorted(self.seeds_incomplete),
            "seeds_missing": self.seeds_missing,
            "rows_with_missing_values": self.rows_with_missing_values,
            "missing_values": self.missing_values,
            "seeds_with_missing_values": self.seeds_with_missing_values,
            "n_seeds_in_statistics": len(self.stats_seeds),
            "statistics_over": "all seeds, incomplete included"
            if self.includes_incomplete
            else "complete seeds",
        }


def run_status(
    df: Any, meta: dict[str, Any], done: set[tuple[str, int]] | None
) -> dict[str, StrategyStatus]:
    """Per strategy of the run (and any other in ``df``): missing/incomplete seeds and missing values.

    ``done`` is the checked journal's finished searches; None when only results.csv was shared, in which
    case a search is complete when it has ``budget_queries`` rows numbered 0..budget-1 (with a time budget
    nothing tells, and every search present counts as complete).
    """
    cfg = meta["config"]
    seeds = cfg.get("seeds")
    if not isinstance(seeds, list):
        seeds = list(
            range(
                int(cfg.get("first_seed", 0)),
                int(cfg.get("first_seed", 0)) + int(cfg.get("n_seeds", 1)),
            )
        )
    order = list(cfg["strategies"]) + [
        s for s in df["strategy"].unique() if s not in cfg["strategies"]
    ]
    budget = cfg.get("budget_queries")
    by_count = done is None and budget and not cfg.get("budget_seconds")
    recorded = [c for c in _IDENTITY + _VALUES if c in df and df[c].notna().any()]
    empty = df[recorded].isna().to_numpy() if len(df) else np.zeros((0, len(recorded)), bool)
    row_missing = empty.any(axis=1)
    out: dict[str, StrategyStatus] = {}
    strat_col = df["strategy"].astype(str).to_numpy()
    seed_col = df["seed"].to_numpy(float)
    trial_col = df["trial"].to_numpy(float)
    for strategy in order:
        mine = strat_col == strategy
        s_seed = seed_col[mine]
        present = sorted({int(s) for s in s_seed[np.isfinite(s_seed)]})
        counts = {
            int(s): int(n)
            for s, n in zip(*np.unique(s_seed[np.isfinite(s_seed)], return_counts=True))
        }
        incomplete: dict[int, str] = {}
        for s in present:
            n = counts[s]
            if done is not None:
                finished = (strategy, s) in done
            elif by_count:
                t = trial_col[mine & (seed_col == s)]
                finished = n == budget and np.array_equal(np.sort(t), np.arange(budget))
            else:
                finished = True
            if not finished:
                of = f" of {budget}" if budget else ""
                incomplete[s] = f"{n}{of} evaluations, not finished"
        bad = mine & row_missing
        with_missing = sorted({int(s) for s in seed_col[bad] if np.isfinite(s)})
        cols = {
            c: int(empty[mine, j].sum()) for j, c in enumerate(recorded) if empty[mine, j].any()
        }
        st = StrategyStatus(
            seeds_present=present,
            seeds_missing=[s for s in seeds if s not in counts]
            if strategy in cfg["strategies"]
            else [],
            seeds_incomplete=incomplete,
            seeds_with_missing_values=with_missing,
            rows_with_missing_values=int(bad.sum()),
            missing_values=cols,
        )
        complete = [s for s in present if s not in incomplete and s not in with_missing]
        st.stats_seeds = complete or present
        st.includes_incomplete = not complete and bool(present)
        out[strategy] = st
    return out


def restrict(df: Any, status: dict[str, StrategyStatus]) -> Any:
    """The rows every statistic is computed over (see :func:`run_status`)."""
    keep = np.zeros(len(df), dtype=bool)
    strat = df["strategy"].astype(str).to_numpy()
    seed = df["seed"].to_numpy(float)
    for name, st in status.items():
        keep |= (strat == name) & np.isin(seed, st.stats_seeds)
    if {"trial", "index", "fidelity"} <= set(df.columns):
        keep &= df[["trial", "index", "fidelity"]].notna().all(axis=1).to_numpy()
    return df[keep]


def _seed_list(seeds: list[int], limit: int = 8) -> str:
    shown = ",".join(map(str, seeds[:limit]))
    return (
        ("seed " if len(seeds) == 1 else "seeds ")
        + shown
        + (f",... ({len(seeds)})" if len(seeds) > limit else "")
    )


def notes(status: dict[str, StrategyStatus], left_out: int = 0) -> list[str]:
    """Lines the text report prints under its tables (none when every search is complete)."""
    lines = []
    for name, st in status.items():
        parts = []
        if st.seeds_missing:
            parts.append(f"{_seed_list(st.seeds_missing)} missing (no evaluation)")
        if st.seeds_incomplete:
            inc = sorted(st.seeds_incomplete)
            why = "; ".join(f"{s}: {st.seeds_incomplete[s]}" for s in inc[:3])
            parts.append(f"{_seed_list(inc)} incomplete ({why}{'; ...' if len(inc) > 3 else ''})")
        if st.rows_with_missing_values:
            cols = ", ".join(f"{c} {n}" for c, n in st.missing_values.items())
            parts.append(
                f"{st.rows_with_missing_values} row(s) with missing values ({cols}) in "
                f"{_seed_list(st.seeds_with_missing_values)}"
            )
        if not parts:
            continue
        if st.includes_incomplete:
            tail = f"no complete search: its statistics (marked *) include all {len(st.stats_seeds)} seeds"
        elif not st.stats_seeds:
            tail = "nothing to summarise"
        else:
            tail = f"statistics over its {len(st.stats_seeds)} complete seed(s) only"
        lines.append(f"note: {name}: " + "; ".join(parts) + f" -> {tail}")
    if left_out:
        lines.append(
            f"note: {left_out} journal line(s) left out as not belonging to this run (see the warning)"
        )
    return lines
