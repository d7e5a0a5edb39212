"""Strategies on a space that is not NB201: the moves and policies that used to assume 6 edges x 5 ops.

The toy space (tests/toy_benchmark.py) has unequal cardinalities, choice vectors that are no cell, several vectors
naming one cell and isomorphism classes; NB201 checks pin that the generic code draws exactly what the
NB201-only code drew (the published regret figures depend on it).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from toy_benchmark import Toy5Space, toy_benchmark

from strategies.acquisition import SeenCells, mutate_indices
from strategies.bananas import Bananas
from strategies.base import Observation, SearchContext
from strategies.moves import neighbour_table, random_shifts
from strategies.nsga import NSGA2, PNSGA3
from strategies.pnas import PNAS, STAGE_EDGES, growth_stages
from strategies.reinforce import Reinforce
from strategies.runner import Runner
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

TOY = Toy5Space()
CTX = SearchContext(fidelities=(4, 16), budget_queries=40, dataset="toy")


@cache
def _bench():
    return toy_benchmark(Path(os.environ["NASSCOUT_HOME"]) / "toy-strategies.h5")


def test_toy_space_has_the_awkward_features():
    assert TOY.cardinalities.tolist() == [4, 3, 5, 2, 3]
    codes = TOY.raw_index
    assert (codes < 0).sum() == 30  # a0 with b0 is no cell
    valid = codes[codes >= 0]
    assert len(valid) > TOY.n_cells == len(np.unique(valid))  # several vectors name one cell
    assert TOY.n_classes < TOY.n_cells


def test_neighbour_table_is_the_distinct_neighbours_of_every_cell():
    table, counts = neighbour_table(TOY)
    assert counts.min() < counts.max()  # invalid and merged vectors make neighbourhoods unequal
    for i in range(TOY.n_cells):
        row = table[i, : counts[i]]
        assert row.tolist() == TOY.neighbour_indices(i).tolist()
        assert (table[i, counts[i] :] == -1).all() and i not in row


def test_random_shifts_stay_within_each_cardinality_and_match_the_scalar_draw():
    card = TOY.cardinalities
    s = random_shifts(np.random.default_rng(0), card, (5000, len(card)))
    assert (s >= 1).all() and (s <= card - 1).all()
    assert all(set(s[:, p].tolist()) == set(range(1, card[p])) for p in range(len(card)))
    five = np.full(6, 5)
    a = random_shifts(np.random.default_rng(1), five, (7, 6))
    assert (a == np.random.default_rng(1).integers(1, 5, size=(7, 6))).all()


def test_mutants_are_cells_of_the_space():
    rng = np.random.default_rng(0)
    parents = TOY.sample_indices(rng, 5)
    out = mutate_indices(TOY, parents, 500, rng, max_edits=2)
    assert len(out) > 400 and out.min() >= 0 and out.max() < TOY.n_cells
    assert len(np.setdiff1d(out, parents)) > 50
    with pytest.raises(NasscoutError, match="accepted 1..5"):
        mutate_indices(TOY, parents, 5, rng, max_edits=6)


def test_seen_cells_count_a_class_once():
    seen = SeenCells(TOY)
    cls = TOY.class_ids
    ids, counts = np.unique(cls, return_counts=True)
    twin = np.flatnonzero(cls == ids[np.argmax(counts)])  # a class with several cells
    seen.add(int(twin[0]))
    assert seen.is_seen(int(twin[1])) and seen.n_seen == 1
    assert len(seen.unseen(TOY.all_indices)) == TOY.n_classes - 1


def test_reinforce_has_one_categorical_per_position_of_its_cardinality():
    rl = Reinforce(TOY, seed=0, context=CTX)
    rng = np.random.default_rng(1)
    for _ in range(60):
        t = rl.ask()
        assert 0 <= t.index < TOY.n_cells
        rl.tell(t, Observation(float(rng.uniform(60, 80)), 16, 1.0))
    p = rl.probabilities()
    assert p.shape == (5, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    beyond = np.arange(5)[None, :] >= TOY.cardinalities[:, None]
    assert (p[beyond] == 0).all() and (p[~beyond] > 0).all()


def test_pnas_grows_only_nb201_style_cells():
    assert growth_stages(NB201Space()) == STAGE_EDGES
    assert growth_stages(TOY) is None
    pnas = PNAS(TOY, seed=0, context=CTX)
    assert not pnas.growing and pnas.stages == ()


def test_bananas_falls_back_to_onehot_without_a_path_encoding():
    assert "path" not in TOY.encodings
    assert Bananas(TOY, seed=0, context=CTX).predictor_options["encoding"] == "onehot"
    assert "encoding" not in Bananas(NB201Space(), seed=0, context=CTX).predictor_options
    with pytest.raises(NasscoutError, match="encoding 'path' does not exist on space toy5"):
        Bananas(TOY, seed=0, context=CTX, predictor_options={"encoding": "path"})


def test_nsga2_mutates_one_position_in_n_by_default():
    assert NSGA2(TOY, seed=0, context=CTX).mutation_prob == pytest.approx(1 / 5)
    assert NSGA2(NB201Space(), seed=0, context=CTX).mutation_prob == 1 / 6


def test_model_based_strategies_hand_their_space_to_the_predictor():
    runner = Runner(_bench(), dataset="toy", seed=0, budget_queries=25)
    strat = runner.make_strategy("bo-xgb")
    runner.run(strat)
    assert strat.n_fits_ >= 1 and strat.model_.space is strat.space is runner.benchmark.space


@pytest.mark.parametrize("name", ["rea", "evolution", "ls"])
def test_search_beats_random_search_on_the_toy_benchmark(name):
    """40 queries of 286 cells, 12 seeds: a search that uses the observations finds better cells. (Not
    reinforce: at lr 0.01 its policy hardly moves in 40 steps, as on NB201, where it tracks rs.)"""

    def mean_regret(strategy: str) -> float:
        finals = [
            Runner(_bench(), dataset="toy", seed=s, budget_queries=40).run(strategy).regret()[-1]
            for s in range(12)
        ]
        return float(np.mean(finals))

    assert mean_regret(name) < 0.8 * mean_regret("rs")


def test_nsga_refuses_an_objective_the_context_says_is_missing():
    ctx = SearchContext(fidelities=(16,), dataset="toy1", metrics=("cost_s", "latency_s"))
    with pytest.raises(NasscoutError, match="'params_m' is not recorded for dataset 'toy1'"):
        NSGA2(TOY, seed=0, context=ctx)
    assert NSGA2(TOY, seed=0, context=ctx, objectives="valid_acc,cost_s").objectives[1] == "cost_s"
    two = SearchContext(fidelities=(4, 16), dataset="toy", metrics=("cost_s",))
    with pytest.raises(NasscoutError, match="params_m"):
        PNSGA3(TOY, seed=0, context=two)


def test_neighbour_tables_of_a_restricted_view_and_the_full_space_are_kept_apart():
    """Spaces compare equal by class: a table cached for a restricted view (a table's subset) must not
    serve the full space, or the same seed would propose other cells after an unrelated search."""
    full = NB201Space()
    view = full.restricted(np.arange(0, full.n_cells, 3))
    vt, vc = neighbour_table(view)
    ft, fc = neighbour_table(full)
    assert vc.max() < 24 and (fc == 24).all()
    assert ft[777].tolist() == full.neighbour_indices(777).tolist()
    assert np.isin(vt[vt >= 0], view.candidates).all()
