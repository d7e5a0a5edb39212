"""The one contract every registered strategy meets, on every search space, through the Runner.

Spaces: the real NB201 table and ``toy`` (tests/toy_benchmark.py: unequal cardinalities, choice vectors that are
no cell, several vectors naming one cell, isomorphism classes; a small tabular benchmark written with the same
store writer as the real ones) get every check below; TransNAS-Bench-101 micro and NAS-Bench-Graph (slow: their
model-based runs take seconds each) get determinism, in-space proposals and exact resume, or the one-line
refusal of a strategy that needs what they lack (a second fidelity).

- it is registered under its own ``name``, with a one-line ``summary`` and a docstring;
- determinism: same seed -> the same proposals and observations, also with parallel workers; another seed
  -> other proposals;
- it never proposes outside the space: every trial is a ``Trial`` with a fresh id, a cell 0..n_cells-1 and a
  fidelity the benchmark has (or None);
- it respects budgets: exactly ``budget_queries`` evaluations, none finishing after ``budget_seconds``;
- duplicate proposals are handled: a cell proposed again is evaluated again as its own query (own id, own
  noisy draw, same truth) and the strategy keeps working;
- it is resumable: replaying a journaled prefix reproduces the uninterrupted run;
- what it needs and the benchmark lacks (a second fidelity) it says at construction, in one line.
"""

from __future__ import annotations

import inspect
import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from toy_benchmark import toy_benchmark

from strategies.base import SearchContext, Strategy, Trial
from strategies.registry import STRATEGIES, get_strategy, list_strategies
from strategies.runner import Runner
from surrogate.errors import NasscoutError

NAMES = [name for name, _ in list_strategies()]
BUDGET = 40
# space -> dataset searched (with two fidelities where the benchmark has them)
DATASETS = {
    "nb201": "cifar10",
    "toy": "toy",
    "transnas-micro": "class_object",
    "nasbench-graph": "cora",
}
SHARED_DATA = Path(
    os.environ.get("NASSCOUT_DATA_SOURCES")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SPACES = ["nb201", "toy"]  # every check
REAL = ["transnas-micro", "nasbench-graph"]  # the core checks, marked slow
# options a strategy needs on a benchmark (TransNAS-Bench-101 records no parameter counts)
OPTIONS = {("nsga2", "transnas-micro"): {"objectives": "valid_acc,cost_s"}}


@cache
def _bench(space: str):
    if space == "toy":
        return toy_benchmark(Path(os.environ["NASSCOUT_HOME"]) / "toy-contract.h5")
    if space == "nasbench-graph":
        pytest.importorskip("nas_bench_graph")
    if space == "transnas-micro" and not (SHARED_DATA / "transnas101_micro").is_dir():
        pytest.skip(f"TransNAS-Bench-101 data not found at {SHARED_DATA}")
    from surrogate.registry import load_benchmark

    return load_benchmark(space)


def _run(name: str, space: str = "nb201", seed: int = 0, workers: int = 1, replay=None, **budget):
    budget = budget or {"budget_queries": BUDGET}
    runner = Runner(_bench(space), dataset=DATASETS[space], seed=seed, n_workers=workers, **budget)
    return runner.run(name, options=OPTIONS.get((name, space)), replay=replay)


@cache
def _reference(name: str, space: str):
    return _run(name, space)


def _rows(traj) -> list[tuple]:
    return [r._replace(wall_time_s=0.0) for r in traj.rows]


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


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name, space):
    assert _rows(_run(name, space)) == _rows(_reference(name, space))
    # with pending trials: enough to reach the first model fit
    half = {"budget_queries": BUDGET // 2}
    a = _run(name, space, workers=3, **half)
    assert _rows(a) == _rows(_run(name, space, workers=3, **half))
    other = _run(name, space, seed=1, **half)
    assert [r.index for r in other.rows] != [
        r.index for r in _reference(name, space).rows[: BUDGET // 2]
    ]


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", NAMES)
def test_proposals_stay_in_the_space(name, space):
    bench = _bench(space)
    n = bench.space.n_cells
    fids = bench.fidelities_for(DATASETS[space])
    ctx = SearchContext(
        fidelities=fids, budget_queries=BUDGET, n_workers=4, dataset=DATASETS[space]
    )
    strat = get_strategy(name)(bench.space, seed=5, context=ctx)
    ids = set()
    for _ in range(8):  # several asks before any tell: pending trials, as with 4 workers
        trial = strat.ask()
        if trial is None:
            break
        assert isinstance(trial, Trial) and trial.trial_id not in ids
        ids.add(trial.trial_id)
        assert isinstance(trial.index, (int, np.integer)) and 0 <= trial.index < n
        assert trial.fidelity is None or trial.fidelity in fids
    traj = _reference(name, space)
    idx, fid = traj.column("index"), traj.column("fidelity")
    assert idx.min() >= 0 and idx.max() < n and set(fid) <= set(fids)


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", NAMES)
def test_respects_budgets(name, space):
    assert len(_reference(name, space)) == BUDGET
    assert len(_run(name, space, workers=4, budget_queries=BUDGET - 7)) == BUDGET - 7
    # about 60 top-fidelity trainings of simulated time
    seconds = 60 * float(np.mean(_bench(space).cost(_bench(space).cells, dataset=DATASETS[space])))
    timed = _run(name, space, budget_seconds=seconds)
    t = timed.column("sim_time_s")
    assert 0 < len(timed) < 300 and t.max() <= seconds


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", NAMES)
def test_duplicate_proposals_are_separate_queries(name, space):
    """A cell proposed again costs a query and gets its own draw; the run goes on. (The runner side, with a
    strategy that proposes one cell only, is tests/test_runner.py::test_duplicates_and_waiting_strategies.)"""
    traj = _run(name, space, seed=2, workers=2)
    trials = traj.column("trial")
    assert sorted(trials.tolist()) == list(range(BUDGET))  # one row per query, ids 0..N-1
    seen: dict[tuple[int, int], float] = {}
    for index, fid, true in zip(
        traj.column("index").tolist(),
        traj.column("fidelity").tolist(),
        traj.column("true_acc").tolist(),
    ):
        assert seen.setdefault((index, fid), true) == true  # a repeated cell has one truth


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", NAMES)
def test_resumes_from_a_journal_prefix(name, space):
    ref = _reference(name, space)
    journal = {
        r.trial: r for r in ref.rows[: BUDGET // 2]
    }  # the first half, as a killed run left it
    runner = Runner(_bench(space), dataset=DATASETS[space], seed=0, budget_queries=BUDGET)
    resumed = runner.run(name, replay=journal)
    assert _rows(resumed) == _rows(ref)


NEEDS_TWO_FIDELITIES = {"sh", "hyperband", "pnsga3"}


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_second_fidelity_is_refused_in_one_line(name):
    """On a dataset with one fidelity, sh/hyperband/pnsga3 refuse at construction; every other strategy runs."""
    bench = _bench("toy")
    runner = Runner(bench, dataset="toy1", seed=0, budget_queries=15)
    reason = get_strategy(name).unsupported(bench.space, runner.context)
    if name in NEEDS_TWO_FIDELITIES:
        with pytest.raises(NasscoutError, match="fidelit") as err:
            runner.run(name)
        assert "\n" not in str(err.value) and "[16]" in str(err.value)
        assert name not in ("sh", "hyperband") or reason is not None
    else:
        assert reason is None
        traj = runner.run(name)
        assert len(traj) == 15 and set(traj.column("fidelity").tolist()) == {16}


@pytest.mark.slow
@pytest.mark.parametrize("space", REAL)
@pytest.mark.parametrize("name", NAMES)
def test_on_the_real_spaces(name, space):
    """Deterministic, in the space, exactly resumable; or refused in one line at construction."""
    bench, ds = _bench(space), DATASETS[space]
    runner = Runner(bench, dataset=ds, seed=0, budget_queries=BUDGET)
    if name in NEEDS_TWO_FIDELITIES and len(bench.fidelities_for(ds)) < 2:
        with pytest.raises(NasscoutError, match="fidelit") as err:
            runner.make_strategy(name)
        assert "\n" not in str(err.value)
        return
    ref = _run(name, space)
    assert len(ref) == BUDGET and _rows(_run(name, space)) == _rows(ref)
    idx = ref.column("index")
    assert idx.min() >= 0 and idx.max() < bench.space.n_cells
    assert np.isin(idx, bench.cells_for(ds)).all()  # only cells the benchmark can answer
    half = {r.trial: r for r in ref.rows[: BUDGET // 2]}
    assert _rows(_run(name, space, replay=half)) == _rows(ref)
