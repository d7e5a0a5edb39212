"""The one contract every registered strategy meets (run on the real NB201 table, through the Runner).

- it is registered under its own ``name``, with a one-line ``summary`` and a docstring;
- determinism: same seed -> the same proposals and observations, also with parallel workers; another seed
  -> other proposals;
- it never proposes outside the space: every trial is a ``Trial`` with a fresh id, a cell 0..15,624 and a
  fidelity the benchmark has (or None);
- it respects budgets: exactly ``budget_queries`` evaluations, none finishing after ``budget_seconds``;
- duplicate proposals are handled: a cell proposed again is evaluated again as its own query (own id, own
  noisy draw, same truth) and the strategy keeps working;
- it is resumable: replaying a journaled prefix reproduces the uninterrupted run.
"""

from __future__ import annotations

import inspect
from functools import cache

import numpy as np
import pytest

from strategies.base import SearchContext, Strategy, Trial
from strategies.registry import STRATEGIES, get_strategy, list_strategies
from strategies.runner import TRAJECTORY_FIELDS, Runner
from surrogate.spaces.nb201 import NB201Space

NAMES = [name for name, _ in list_strategies()]
BUDGET = 40
WALL = TRAJECTORY_FIELDS.index("wall_time_s")


@cache
def _bench():
    from surrogate.registry import load_benchmark

    return load_benchmark("nb201")


def _run(name: str, seed: int = 0, workers: int = 1, **budget):
    budget = budget or {"budget_queries": BUDGET}
    return Runner(_bench(), dataset="cifar10", seed=seed, n_workers=workers, **budget).run(name)


@cache
def _reference(name: str):
    return _run(name)


def _rows(traj) -> list[tuple]:
    return [r[:WALL] + r[WALL + 1 :] for r in traj.rows]


def test_registry_lists_every_strategy_once():
    assert NAMES == list(STRATEGIES) and len(set(NAMES)) == len(NAMES)
    assert {"rs", "rea", "evolution"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_documented(name):
    cls = get_strategy(name)
    assert issubclass(cls, Strategy) and not inspect.isabstract(cls)
    assert cls.name == name
    assert cls.summary and "\n" not in cls.summary
    assert (cls.__doc__ or "").strip()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name):
    assert _rows(_run(name)) == _rows(_reference(name))
    half = {
        "budget_queries": BUDGET // 2
    }  # with pending trials: enough to reach the first model fit
    assert _rows(_run(name, workers=3, **half)) == _rows(_run(name, workers=3, **half))
    other = _run(name, seed=1, **half)
    assert [r[1] for r in other.rows] != [r[1] for r in _reference(name).rows[: BUDGET // 2]]


@pytest.mark.parametrize("name", NAMES)
def test_proposals_stay_in_the_space(name):
    space = NB201Space()
    ctx = SearchContext(fidelities=(12, 200), budget_queries=BUDGET, n_workers=4, dataset="cifar10")
    strat = get_strategy(name)(space, seed=5, context=ctx)
    ids = set()
    for _ in range(8):  # several asks before any tell: pending trials, as with 4 workers
        trial = strat.ask()
        if trial is None:
            break
        assert isinstance(trial, Trial) and trial.trial_id not in ids
        ids.add(trial.trial_id)
        assert isinstance(trial.index, (int, np.integer)) and 0 <= trial.index < space.N_CELLS
        assert trial.fidelity in (None, 12, 200)
    traj = _reference(name)
    idx, fid = traj.column("index"), traj.column("fidelity")
    assert idx.min() >= 0 and idx.max() < space.N_CELLS and set(fid) <= {12, 200}


@pytest.mark.parametrize("name", NAMES)
def test_respects_budgets(name):
    assert len(_reference(name)) == BUDGET
    assert len(_run(name, workers=4, budget_queries=BUDGET - 7)) == BUDGET - 7
    timed = _run(name, budget_seconds=40_000.0)
    t = timed.column("sim_time_s")
    assert 0 < len(timed) < 200 and t.max() <= 40_000.0


@pytest.mark.parametrize("name", NAMES)
def test_duplicate_proposals_are_separate_queries(name):
    """A cell proposed again costs a query and gets its own draw; the run goes on. (The runner side, with a
    strategy that proposes one cell only, is tests/test_runner.py::test_duplicates_and_waiting_strategies.)"""
    traj = _run(name, seed=2, workers=2)
    trials = traj.column("trial")
    assert sorted(trials.tolist()) == list(range(BUDGET))  # one row per query, ids 0..N-1
    seen: dict[tuple[int, int], float] = {}
    for index, fid, true in zip(
        traj.column("index").tolist(),
        traj.column("fidelity").tolist(),
        traj.column("true_acc").tolist(),
    ):
        assert seen.setdefault((index, fid), true) == true  # a repeated cell has one truth


@pytest.mark.parametrize("name", NAMES)
def test_resumes_from_a_journal_prefix(name):
    ref = _reference(name)
    journal = {
        r[0]: dict(zip(TRAJECTORY_FIELDS, r)) for r in ref.rows[: BUDGET // 2]
    }  # the first half, as a killed run left it
    runner = Runner(_bench(), dataset="cifar10", seed=0, budget_queries=BUDGET)
    resumed = runner.run(name, replay=journal)
    assert _rows(resumed) == _rows(ref)
