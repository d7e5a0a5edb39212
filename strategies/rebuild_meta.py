"""``nasscout run --resume --rebuild-meta``: a run whose ``meta.json`` was lost gets it back from the options
the user repeats, but only once the journal is shown to belong to those options.

Every journal line must fit them (strategy, seed, trial numbering, the benchmark's ranges: see
``strategies.journal_check``). On the simulated clock every journaled search is then re-run in memory and must
reproduce each journaled evaluation exactly (all values but the wall clock). Real trainings cannot be re-run
cheaply: there every search is replayed through its strategy on resume, which checks the cells it proposes
and their order against the journal. What meta.json held beyond the options (the original command line,
creation time, versions, resume history) cannot be recovered; the rebuilt file says so.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from strategies.journal import JOURNAL_NAME, parse_journal
from strategies.journal_check import check_lines
from strategies.pruning import early_stop_from_json
from strategies.results import META_NAME
from surrogate.errors import NasscoutError

_SKIP = ("wall_time_s",)


def rebuild_meta(out: Path, config: Any, bench: Any, command_line: list[str]) -> tuple[dict, bool]:
    """The rebuilt meta (not yet written) and whether every search must be replayed on resume (real
    backends: the values could not be re-checked here). Raises NasscoutError naming the first misfit."""
    from strategies.run_meta import build_meta

    if (out / META_NAME).exists():
        raise NasscoutError(
            f"{out / META_NAME} exists; resume without --rebuild-meta (it rebuilds a lost meta.json only)"
        )
    if not (out / JOURNAL_NAME).is_file():
        raise NasscoutError(f"nothing to rebuild from: {out / JOURNAL_NAME} is missing")
    meta = build_meta(config, bench, command_line)
    lines = parse_journal(out / JOURNAL_NAME)
    checked = check_lines(lines, meta)
    misfits = [x for x in checked.left_out if x.kind not in ("conflicting copy", "repeated copy")]
    if misfits:
        x = misfits[0]
        raise NasscoutError(
            f"cannot rebuild {META_NAME}: {len(misfits)} journal line(s) do not fit the options given (line "
            f"{x.line}, {x.strategy} seed {x.seed}: {x.why}); give the run's own options (or, if such lines "
            "were edited or appended by hand, remove them from the journal first)"
        )
    rows = checked.contents.rows
    simulated = config.backend == "simulated"
    if simulated:
        _reproduce(rows, config, bench)
        how = (
            f"re-running the simulated searches reproduced all {checked.contents.n_rows:,} journaled "
            "evaluations"
        )
    else:
        how = (
            "every journaled search is replayed through its strategy on resume (cells and their order "
            "checked; the values of real trainings could not be re-checked)"
        )
    meta["created_utc"] = None
    meta["rebuilt"] = {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": f"{META_NAME} was lost and rebuilt from the options given with --rebuild-meta; every journal "
        f"line fits them and {how}. Lost for good: the original command line, creation time, versions and "
        "resume history",
    }
    return meta, not simulated


def _reproduce(rows: dict[tuple[str, int], dict[int, Any]], config: Any, bench: Any) -> None:
    from strategies.runner import Runner

    for (strategy, seed), journaled in rows.items():
        runner = Runner(
            bench,
            dataset=config.dataset,
            seed=seed,
            n_workers=config.n_workers,
            budget_queries=config.budget_queries,
            budget_seconds=config.budget_seconds,
            observe=config.observe,
            backend=config.make_backend(),
            spec=config.benchmark,
            early_stop=early_stop_from_json(config.early_stop),
        )
        fresh = {r.trial: r for r in runner.run(strategy, name=strategy).rows}
        for trial, old in journaled.items():
            new = fresh.get(trial)
            diff = _first_difference(old, new)
            if diff:
                raise NasscoutError(
                    f"cannot rebuild {META_NAME}: trial {trial} of {strategy} seed {seed} is not what these "
                    f"options give ({diff}); give the run's own options (e.g. --observe, --workers, "
                    "--budget-seconds, --early-stop and its options)"
                )


def _first_difference(old: Any, new: Any) -> str | None:
    if new is None:
        return "these options never reach it"
    for name, a, b in zip(old._fields, old, new):
        if name in _SKIP:
            continue
        same = a == b or (
            isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
        )
        if not same:
            return f"{name} {a!r} in the journal, {b!r} now"
    return None
