"""The simulated-clock runner, the journal, results files, resume, and rs/rea/evolution behaviour."""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path

import numpy as np
import pytest

from strategies.base import Observation, SearchContext, Strategy, Trial
from strategies.evolution import RegularizedEvolution, TournamentEvolution, neighbour_table
from strategies.experiment import make_config, run_experiment
from strategies.journal import JournalWriter, drop_partial_tail, read_journal
from strategies.random_search import RandomSearch
from strategies.results import COLUMNS, load_results, read_meta
from strategies.row import Row
from strategies.runner import (
    QueryEvaluator,
    Runner,
    TableEvaluator,
    incumbent_positions,
    noise_rng,
    noise_uniforms,
)
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

SPACE = NB201Space()


class Scripted(Strategy):
    """Proposes a fixed list of (cell, fidelity), cycling; records what it was told."""

    name = "scripted"
    summary = "test helper"

    def __init__(
        self, space, *, seed, context=None, script=((0, None),), wait_after=None, idle=False
    ):
        super().__init__(space, seed=seed, context=context)
        self.idle = idle
        self.script = list(script)
        self.told: list[tuple[int, float]] = []
        self.wait_after = wait_after
        self.pending = 0

    def ask(self):
        if self.idle:
            return None
        if self.wait_after is not None and self._next_id >= self.wait_after and self.pending:
            return None
        index, fid = self.script[self._next_id % len(self.script)]
        self.pending += 1
        return self._new_trial(index, fid)

    def tell(self, trial, obs):
        self.pending -= 1
        self.told.append((trial.index, obs.valid_acc))


def _rows(traj) -> list[tuple]:
    """A trajectory without its wall-clock column."""
    return [r._replace(wall_time_s=0.0) for r in traj.rows]


# ---- evaluation and noise ----------------------------------------------------------------------------------------
def test_noise_depends_only_on_seed_and_trial():
    u = noise_uniforms(3, 2)
    assert u == noise_uniforms(3, 2)
    assert u != noise_uniforms(4, 2) and u != noise_uniforms(3, 3)
    for trial in (128, 130, 191):
        assert noise_rng(3, trial).random() == u[trial - 128]


def test_table_evaluator_matches_benchmark_query_bit_for_bit(nb201):
    """The fast lookup draws exactly what ``benchmark.query(seed=Generator)`` draws for the same trial."""
    rng = np.random.default_rng(0)
    cells = rng.integers(0, SPACE.N_CELLS, 150)
    for fid in (12, 200):
        fast = TableEvaluator(nb201, "cifar100", seed=7)
        slow = QueryEvaluator(nb201, "cifar100", seed=7)
        for trial, cell in enumerate(cells.tolist()):
            a, b = fast(cell, fid, trial), slow(cell, fid, trial)
            np.testing.assert_array_equal(np.array(a), np.array(b))


def test_observation_is_one_recorded_seed_and_truth_is_the_mean(nb201):
    ev = TableEvaluator(nb201, "cifar10", seed=0)
    cell = int(np.flatnonzero(nb201.n_seeds(SPACE.all_indices, dataset="cifar10") == 3)[0])
    seeds = [float(nb201.query([cell], dataset="cifar10", seed=s).valid_acc[0]) for s in (0, 1, 2)]
    picks = [ev(cell, 200, t)[0] for t in range(3000)]
    counts = [picks.count(v) for v in seeds]
    assert sum(counts) == 3000 and min(counts) > 850  # each seed ~1/3
    obs, true, test, cost = ev(cell, 200, 0)[:4]
    assert true == pytest.approx(np.mean(seeds))
    assert math.isnan(test)  # NB201 has no cifar10 test accuracy at 200 epochs
    assert cost == float(nb201.cost([cell], dataset="cifar10", fidelity=200)[0])
    # at 12 epochs the truth stays the 200-epoch mean, the cost is the 12-epoch schedule's
    obs12, true12, _, cost12 = ev(cell, 12, 0)[:4]
    assert true12 == true and cost12 < cost


# ---- the simulated clock ------------------------------------------------------------------------------------------
def _expected_schedule(costs: list[float], workers: int) -> list[tuple[float, int]]:
    """(finish time, trial) in completion order, computed independently of the runner."""
    free = [0.0] * workers
    done = []
    for k, c in enumerate(costs):
        start = heapq.heappop(free)
        done.append((start + c, k))
        heapq.heappush(free, start + c)
    return sorted(done)


@pytest.mark.parametrize("workers", [1, 3])
def test_clock_matches_an_independent_schedule(nb201, workers):
    cells = [5, 900, 13000, 77, 2048, 6111, 42, 15000]
    script = [(c, None) for c in cells]
    runner = Runner(nb201, dataset="cifar10", seed=1, n_workers=workers, budget_queries=len(cells))
    traj = runner.run(Scripted, options={"script": script})
    costs = nb201.cost(cells, dataset="cifar10", fidelity=200).tolist()
    expect = _expected_schedule(costs, workers)
    assert [(r.sim_time_s, r.trial) for r in traj.rows] == expect
    if workers == 1:
        np.testing.assert_allclose(traj.column("sim_time_s"), np.cumsum(costs))


def test_time_budget_drops_late_results(nb201):
    runner = Runner(nb201, dataset="cifar10", seed=0, budget_seconds=50_000.0)
    traj = runner.run("rs")
    t = traj.column("sim_time_s")
    assert len(traj) > 5 and t.max() <= 50_000.0
    # the next evaluation (trial len) would have ended after the budget
    nxt = runner.run("rs")
    assert _rows(nxt) == _rows(traj)
    both = Runner(nb201, dataset="cifar10", seed=0, budget_seconds=50_000.0, budget_queries=4).run(
        "rs"
    )
    assert len(both) == 4


def test_duplicates_and_waiting_strategies(nb201):
    runner = Runner(nb201, dataset="cifar10", seed=0, n_workers=3, budget_queries=40)
    strat = runner.make_strategy(Scripted, script=[(6111, None)], wait_after=5)
    traj = runner.run(strat)
    assert len(traj) == 40 and set(traj.column("index")) == {6111}
    assert len(set(traj.column("true_acc"))) == 1  # one truth
    assert len(set(traj.column("observed_acc"))) > 1  # several seeds observed
    assert len(strat.told) == 40


def test_bad_trials_and_budgets_are_refused(nb201):
    runner = Runner(nb201, dataset="cifar10", seed=0, budget_queries=5)
    with pytest.raises(NasscoutError, match="outside 0..15624"):
        runner.run(Scripted, options={"script": [(15625, None)]})
    with pytest.raises(NasscoutError, match="fidelity 50"):
        runner.run(Scripted, options={"script": [(3, 50)]})
    with pytest.raises(NasscoutError, match="proposed nothing"):
        runner.run(Scripted, options={"idle": True})
    for kw, match in [
        ({"budget_queries": 0}, "budget_queries 0"),
        ({"budget_queries": 31_251}, "1..31,250"),
        ({"budget_seconds": -1.0}, "budget_seconds"),
        ({"budget_seconds": float("nan")}, "budget_seconds"),
        ({"budget_seconds": 1e12}, "at most"),
        ({}, "no budget"),
        ({"budget_queries": 5, "n_workers": 0}, "n_workers 0"),
    ]:
        with pytest.raises(NasscoutError, match=match):
            Runner(nb201, dataset="cifar10", seed=0, **kw)
    with pytest.raises(NasscoutError, match="accepted: cifar10"):
        Runner(nb201, dataset="mnist", budget_queries=5)
    with pytest.raises(NasscoutError, match="unknown strategy 'nope'; accepted: rs, rea"):
        runner.run("nope")
    with pytest.raises(NasscoutError, match="differs from the run seed"):
        runner.run(RandomSearch(SPACE, seed=1))


def test_incumbent_is_best_observed_at_top_fidelity():
    obs = np.array([50.0, np.nan, 70.0, 90.0, 70.0, 95.0, 95.0])
    top = np.array([True, True, True, False, True, True, True])
    # 90 is at 12 epochs: ignored; the first 95 wins the tie
    assert incumbent_positions(obs, top).tolist() == [0, 0, 2, 2, 2, 5, 5]
    assert incumbent_positions(obs[:2], np.array([False, True])).tolist() == [-1, -1]


# ---- strategies of this module -------------------------------------------------------------------------------------
def test_random_search_is_without_replacement():
    rs = RandomSearch(SPACE, seed=0)
    cells = [rs.ask().index for _ in range(SPACE.N_CELLS)]
    assert len(set(cells)) == SPACE.N_CELLS
    assert 0 <= rs.ask().index < SPACE.N_CELLS  # a second pass starts


def _feed(strategy, values):
    """Ask/tell with the given observed values; returns the trials."""
    trials = []
    for v in values:
        t = strategy.ask()
        strategy.tell(t, Observation(valid_acc=v, fidelity=200, cost_s=1.0))
        trials.append(t)
    return trials


def test_aging_removes_the_oldest_and_tournament_the_worst():
    values = (
        [80.0 + i for i in range(30)] + [10.0] + [50.0]
    )  # the first member is the worst at first
    rea = RegularizedEvolution(SPACE, seed=0)
    evo = TournamentEvolution(SPACE, seed=0)
    trials_a = _feed(rea, values)
    _feed(evo, values)
    assert len(rea._members) == len(evo._members) == 30
    # aging: the two oldest left, whatever their score
    assert rea._members == [t.index for t in trials_a[2:]]
    assert 10.0 in rea._scores and 80.0 not in rea._scores
    # no aging: the two worst left (10 and 50), the oldest (80) stays
    assert sorted(evo._scores) == sorted(values[:30])


def test_children_are_one_edit_from_a_population_member():
    rea = RegularizedEvolution(SPACE, seed=3)
    rng = np.random.default_rng(0)
    _feed(rea, rng.uniform(60, 90, 30))
    for _ in range(100):
        members = set(rea._members)
        t = rea.ask()
        assert any(SPACE.edit_distance(t.index, m) == 1 for m in members)
        rea.tell(t, Observation(valid_acc=float(rng.uniform(60, 90)), fidelity=200, cost_s=1.0))
    assert len(rea._members) == 30


def test_neighbour_table_matches_the_space():
    table, counts = neighbour_table(SPACE)
    assert (counts == 24).all()
    for i in (0, 1, 777, 15624):
        assert table[i].tolist() == SPACE.neighbour_indices(i).tolist()


def test_evolution_options_are_validated():
    with pytest.raises(NasscoutError, match="sample_size 40 exceeds population_size 30"):
        RegularizedEvolution(SPACE, seed=0, sample_size=40)
    with pytest.raises(NasscoutError, match="population_size must be a positive integer"):
        TournamentEvolution(SPACE, seed=0, population_size=0)


def test_rea_beats_random_search(nb201):
    """Quality floor with a wide margin (measured: 0.21 vs 0.63 points at 100 queries, 300 seeds)."""
    reg = {}
    for name in ("rs", "rea"):
        r = [
            Runner(nb201, dataset="cifar10", seed=s, budget_queries=100).run(name).regret()[-1]
            for s in range(40)
        ]
        reg[name] = float(np.mean(r))
    assert reg["rea"] < reg["rs"] - 0.15


# ---- journal ------------------------------------------------------------------------------------------------------
def test_journal_roundtrip_partial_and_damaged_lines(tmp_path, capsys):
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path, max_rows=2) as w:
        for k in range(5):
            w.add_row(
                Row(
                    "rea",
                    0,
                    k,
                    k,
                    200,
                    90.0 + k,
                    91.0,
                    math.nan,
                    10.0,
                    10.0 * (k + 1),
                    0.1,
                    1.0,
                    0.01,
                    10.0,
                    5.0,
                )
            )
        w.add_row(
            Row(
                "reinforce-nan",
                1,
                0,
                7,
                12,
                -math.inf,
                1e-300,
                math.inf,
                1.5,
                1.5,
                0.0,
                1.0,
                0.01,
                1.5,
                5.0,
            )
        )
        w.add({"strategy": "rea", "seed": 0, "done": True, "rows": 5})
    lines = path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # strict JSON: NaN written as null
    odd = json.loads(lines[5])
    assert (
        odd["strategy"] == "reinforce-nan"
        and odd["observed_acc"] is None
        and odd["test_acc"] is None
    )
    assert odd["true_acc"] == 1e-300
    del lines[5]
    c = read_journal(path)
    assert c.done == {("rea", 0)} and sorted(c.rows[("rea", 0)]) == [0, 1, 2, 3, 4]
    assert c.rows[("rea", 0)][3].observed_acc == 93.0 and math.isnan(c.rows[("rea", 0)][3].test_acc)
    # a torn last line is ignored, a damaged middle line skipped with a warning
    text = "\n".join(lines[:2] + ['{"strategy": "rea", "se'] + lines[3:5]) + "\n" + lines[5][:17]
    path.write_text(text)
    c = read_journal(path)
    assert c.partial_tail and c.damaged_lines == [3] and sorted(c.rows[("rea", 0)]) == [0, 1, 3, 4]
    assert "damaged line" in capsys.readouterr().err
    assert drop_partial_tail(path) and path.read_text().endswith("\n")
    assert not drop_partial_tail(path)


# ---- whole runs: results files, reproducibility, resume ------------------------------------------------------------
def _run(out: Path, resume: bool = False, jobs: int = 1, **kw) -> Path:
    opts = {"strategies": "rs,rea,evolution", "n_seeds": 3, "budget_queries": 60, **kw}
    config, bench = make_config(**opts)
    run_experiment(out, config, bench, jobs=jobs, quiet=True, command_line=["test"], resume=resume)
    return out / "results.csv"


def _without_wall(path: Path) -> list[str]:
    col = COLUMNS.index("wall_time_s")
    return [
        ",".join(f for i, f in enumerate(line.split(",")) if i != col)
        for line in path.read_text().splitlines()
    ]


def test_results_file_layout_and_reproducibility(nb201, tmp_path):
    a = _run(tmp_path / "a")
    b = _run(tmp_path / "b", jobs=2)
    assert a.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert _without_wall(a) == _without_wall(b)  # same seed -> same file, except wall_time_s
    assert a.read_text() != b.read_text()
    df, meta = load_results(tmp_path / "a")
    assert list(df.columns) == list(COLUMNS) and len(df) == 3 * 3 * 60
    assert df.groupby(["strategy", "seed"]).size().eq(60).all()
    assert df["test_acc"].isna().all() and df["arch"].str.startswith("|").all()
    assert (df["arch"].map(SPACE.index) == df["index"]).all()
    assert meta["config"]["seeds"] == [0, 1, 2] and meta["versions"]["numpy"] == np.__version__
    assert meta["benchmark"]["best_index"] == 6111


def test_resume_after_a_cut_anywhere_gives_the_same_results(nb201, tmp_path):
    """Simulate kill -9 at many points: keep the journal up to a byte offset, resume, compare."""
    ref = _without_wall(_run(tmp_path / "ref", n_seeds=2, budget_queries=40, n_workers=2))
    full = (tmp_path / "ref" / "journal.jsonl").read_bytes()
    rng = np.random.default_rng(0)
    for i, cut in enumerate([0, 1, *rng.integers(2, len(full), 6).tolist(), len(full) - 3]):
        d = tmp_path / f"cut{i}"
        d.mkdir()
        (d / "meta.json").write_text((tmp_path / "ref" / "meta.json").read_text())
        (d / "journal.jsonl").write_bytes(full[:cut])
        assert _without_wall(_run(d, resume=True, n_seeds=2, budget_queries=40, n_workers=2)) == ref
        lines = (d / "journal.jsonl").read_text().splitlines()
        assert all(json.loads(line) for line in lines)  # the torn line was cut, never glued
        assert len(read_meta(d)["resumed"]) == 1
    # a torn line in the middle of a finished search: resume redoes just that evaluation
    d = tmp_path / "torn"
    d.mkdir()
    (d / "meta.json").write_text((tmp_path / "ref" / "meta.json").read_text())
    lines = full.split(b"\n")
    lines[10] = lines[10][:25]
    (d / "journal.jsonl").write_bytes(b"\n".join(lines))
    assert ("rs", 0) not in read_journal(d / "journal.jsonl", warn=False).done
    assert _without_wall(_run(d, resume=True, n_seeds=2, budget_queries=40, n_workers=2)) == ref


def test_resume_refuses_a_strategy_that_does_not_reproduce_the_journal(nb201, tmp_path):
    _run(tmp_path / "r", strategies="rea", n_seeds=1, budget_queries=40)
    j = tmp_path / "r" / "journal.jsonl"
    lines = j.read_text().splitlines()[:-1]  # drop the done marker: the run looks interrupted
    row = json.loads(lines[35])
    row["index"] = (row["index"] + 1) % SPACE.N_CELLS
    lines[35] = json.dumps(row)
    j.write_text("\n".join(lines) + "\n")
    with pytest.raises(NasscoutError, match="cannot resume: strategy 'rea' .* as trial 35"):
        _run(tmp_path / "r", resume=True, strategies="rea", n_seeds=1, budget_queries=40)


def test_resume_refuses_different_options_and_new_runs_refuse_old_dirs(nb201, tmp_path):
    out = tmp_path / "r"
    _run(out, strategies="rs", n_seeds=1, budget_queries=10)
    before = (out / "results.csv").read_bytes()
    with pytest.raises(NasscoutError, match="--budget-queries 20 differs from the run's 10"):
        _run(out, resume=True, strategies="rs", n_seeds=1, budget_queries=20)
    with pytest.raises(NasscoutError, match="already holds a run"):
        _run(out, strategies="rs", n_seeds=1, budget_queries=10)
    assert (out / "results.csv").read_bytes() == before


def test_context_reaches_the_strategy(nb201):
    runner = Runner(nb201, dataset="ImageNet16-120", seed=2, n_workers=4, budget_queries=9)
    strat = runner.make_strategy("rs")
    assert strat.context == SearchContext(
        fidelities=(12, 200),
        budget_queries=9,
        budget_seconds=None,
        n_workers=4,
        dataset="ImageNet16-120",
        metrics=("cost_s", "params_m", "flops_m", "latency_s", "train_time_s"),
        benchmark="nb201",
    )
    assert isinstance(strat.ask(), Trial) and strat.seed == 2
