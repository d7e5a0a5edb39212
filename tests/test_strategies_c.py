"""Model-based strategies (bo-gp, bo-xgb, bananas, pnas) and their acquisition machinery, on real NB201 data.

The shared contract (determinism, in-space, budgets, duplicates) lives in test_strategy_contract.py; these
tests check what each strategy is for: proposals better than chance after a few observations, mutation
candidates near the best cells, pending trials never proposed twice, PNAS's stage structure.
"""

from __future__ import annotations

import numpy as np
import pytest

from strategies.acquisition import (
    SeenCells,
    acquisition_scores,
    candidate_pool,
    expected_improvement,
    independent_thompson,
    mutate_indices,
    top_k,
)
from strategies.base import Observation
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space, canonical_codes

SPACE = NB201Space()


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Edit distance between cells a[i] and b[i] (vectorised)."""
    return np.count_nonzero(SPACE.ops(a) != SPACE.ops(b), axis=1)


def _observe(nb201, index: int, trial_id: int, seed: int = 0) -> Observation:
    rng = np.random.default_rng([seed, trial_id])
    acc = nb201.query(np.array([index]), dataset="cifar10", seed=rng).valid_acc[0]
    return Observation(valid_acc=float(acc), fidelity=200, cost_s=1.0)


def _true(nb201, indices) -> np.ndarray:
    return nb201.query(np.asarray(indices, dtype=np.int64), dataset="cifar10").valid_acc


def _drive(strategy, nb201, n: int) -> list[int]:
    """Ask/tell ``n`` times sequentially; returns the proposed cells."""
    out = []
    for _ in range(n):
        trial = strategy.ask()
        strategy.tell(trial, _observe(nb201, trial.index, trial.trial_id, strategy.seed))
        out.append(trial.index)
    return out


# ---- acquisition functions -----------------------------------------------------------------------------
def test_expected_improvement_matches_closed_form_limits():
    mean = np.array([90.0, 91.0, 92.0, 91.0])
    std = np.array([1e-12, 1e-12, 1e-12, 2.0])
    ei = expected_improvement(mean, std, best=91.0)
    assert ei[0] == pytest.approx(0.0, abs=1e-9)  # certain and worse: no improvement
    assert ei[2] == pytest.approx(1.0)  # certain and better: the plain gain
    assert ei[3] == pytest.approx(2.0 / np.sqrt(2 * np.pi))  # at the incumbent: std * pdf(0)
    grid = expected_improvement(np.linspace(85, 95, 50), np.full(50, 0.5), best=90.0)
    assert np.all(np.diff(grid) > 0) and np.all(grid >= 0)


def test_independent_thompson_is_seeded_and_centred():
    mean, std = np.full(20000, 3.0), np.full(20000, 2.0)
    a = independent_thompson(mean, std, np.random.default_rng(7))
    b = independent_thompson(mean, std, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert abs(a.mean() - 3.0) < 0.05 and abs(a.std() - 2.0) < 0.05


def test_ucb_and_mean_rank_as_expected_and_unknown_name_fails():
    mean, std = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    rng = np.random.default_rng(0)
    assert list(top_k(acquisition_scores("ucb", mean, std, best=0, rng=rng, beta=2.0), 2)) == [1, 0]
    assert list(top_k(acquisition_scores("mean", mean, std, best=0, rng=rng), 2)) == [0, 1]
    with pytest.raises(NasscoutError, match="accepted: ei, ucb, its, mean"):
        acquisition_scores("pi", mean, std, best=0, rng=rng)


# ---- candidate pools -----------------------------------------------------------------------------------
def test_mutants_lie_at_edit_distance_one_to_max_edits():
    rng = np.random.default_rng(0)
    parent = SPACE.index(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    )
    m = mutate_indices(SPACE, np.array([parent]), 2000, rng, max_edits=2)
    d = _distance(m, np.full(len(m), parent))
    assert set(np.unique(d)) == {1, 2}
    m1 = mutate_indices(SPACE, np.array([parent]), 500, rng, max_edits=1)
    assert set(np.unique(_distance(m1, np.full(len(m1), parent)))) == {1}
    assert len(np.unique(m1)) == 24  # a uniform edit-1 mutation reaches every neighbour


def test_seen_cells_filter_pending_and_isomorphic_cells():
    seen = SeenCells()
    codes = canonical_codes(SPACE.all_indices)
    cls = np.bincount(codes)
    members = np.flatnonzero(codes == np.argmax(cls))  # the largest isomorphism class
    seen.add(members[0])
    assert len(seen.unseen(members)) == 0  # every isomorph of a seen cell counts as seen
    fresh = seen.random_unseen(np.random.default_rng(1), 300)
    assert len(fresh) == 300 and len(np.unique(codes[fresh])) == 300
    assert not np.isin(codes[fresh], codes[members[0]]).any()
    plain = SeenCells(isomorphs=False)
    plain.add(members[0])
    assert list(plain.unseen(members[:3])) == list(members[1:3])


def test_pool_falls_back_when_nearly_everything_is_seen():
    codes = canonical_codes(SPACE.all_indices)
    singletons = np.flatnonzero(np.bincount(codes)[codes] == 1)  # cells without isomorphs
    keep = singletons[[3, 300, 1000]]
    seen = SeenCells()
    seen.add(np.setdiff1d(SPACE.all_indices, keep))
    rng = np.random.default_rng(0)
    pool = candidate_pool(
        "mutation", space=SPACE, seen=seen, rng=rng, parents=np.array([0]), n_candidates=50
    )
    assert sorted(pool.tolist()) == sorted(keep.tolist())  # no mutant is unseen: random fallback
    seen.add(keep)
    assert seen.exhausted


# ---- strategy behaviour --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bo-gp", "bo-xgb", "bananas", "pnas"])
def test_after_50_observations_proposals_beat_random_cells(nb201, name):
    from strategies.registry import get_strategy

    proposed = []
    for seed in (1, 2, 3):  # one batch can hold an exploratory miss: judge three runs together
        strategy = get_strategy(name)(SPACE, seed=seed)
        _drive(strategy, nb201, 50)
        proposed += _drive(strategy, nb201, 10)
    random_cells = np.random.default_rng(3).choice(SPACE.N_CELLS, 1000, replace=False)
    bo, rand = _true(nb201, proposed).mean(), _true(nb201, random_cells).mean()
    # random cells average ~84% on cifar10; the 90th percentile of the space is ~89.7%
    assert bo > rand + 4.0, (bo, rand)
    assert bo > np.percentile(_true(nb201, SPACE.all_indices), 90)


def test_bananas_candidates_are_mutants_of_the_top_cells(nb201):
    from strategies.bananas import Bananas

    strategy = Bananas(SPACE, seed=1)  # n_init 10, then batches of 10 from one model
    init = _drive(strategy, nb201, 10)
    observed = np.array(strategy._obs_acc)
    top2 = np.array(init)[np.argsort(-observed, kind="stable")[:2]]
    batch = [strategy.ask() for _ in range(10)]  # one plan: no observation arrives in between
    cells = np.array([t.index for t in batch])
    d = np.minimum(_distance(cells, np.full(10, top2[0])), _distance(cells, np.full(10, top2[1])))
    assert np.all((d >= 1) & (d <= 2)), d
    assert not np.isin(canonical_codes(cells), canonical_codes(np.array(init))).any()


@pytest.mark.parametrize("name", ["bo-gp", "bananas"])
def test_pending_trials_are_never_proposed_again(nb201, name):
    from strategies.registry import get_strategy

    strategy = get_strategy(name)(SPACE, seed=5, n_init=6)
    told = _drive(strategy, nb201, 6)
    pending = [strategy.ask() for _ in range(25)]  # 25 workers busy, none told yet
    cells = told + [t.index for t in pending]
    for t in reversed(pending):  # finishing out of order
        strategy.tell(t, _observe(nb201, t.index, t.trial_id))
    cells += _drive(strategy, nb201, 15)
    codes = canonical_codes(np.array(cells))
    assert len(np.unique(codes)) == len(codes)


def test_evaluated_cells_return_only_once_the_space_is_used_up(nb201):
    from strategies.bayesopt import BayesOptGP

    strategy = BayesOptGP(SPACE, seed=0, n_init=3, batch_size=3)
    told = _drive(strategy, nb201, 4)
    strategy._seen.add(SPACE.all_indices)  # as if every class had been proposed
    again = _drive(strategy, nb201, 3)
    assert all(0 <= i < SPACE.N_CELLS for i in again) and len(told) == 4


def test_runner_with_four_workers_never_repeats_a_class(nb201):
    from strategies.runner import Runner

    traj = Runner(nb201, dataset="cifar10", seed=2, budget_queries=60, n_workers=4).run("bo-xgb")
    codes = canonical_codes(traj.column("index").astype(np.int64))
    assert len(traj) == 60 and len(np.unique(codes)) == 60


def test_same_seed_same_proposals_and_different_seed_differs(nb201):
    from strategies.bayesopt import BayesOptGP

    a = _drive(BayesOptGP(SPACE, seed=11, n_init=5, batch_size=3), nb201, 20)
    b = _drive(BayesOptGP(SPACE, seed=11, n_init=5, batch_size=3), nb201, 20)
    c = _drive(BayesOptGP(SPACE, seed=12, n_init=5, batch_size=3), nb201, 20)
    assert a == b and a != c


def test_pnas_grows_cells_node_by_node(nb201):
    from strategies.pnas import PNAS, STAGE_EDGES

    strategy = PNAS(SPACE, seed=0, n_init=4, beam_size=6)
    init = _drive(strategy, nb201, 4)
    first = _stage1_cells()
    left = ~np.isin(canonical_codes(first), canonical_codes(np.array(init)))
    stage1 = _drive(strategy, nb201, int(left.sum()))
    assert sorted(stage1) == sorted(first[left].tolist())  # every 1-node cell not yet seen
    stage2 = np.array(_drive(strategy, nb201, 6))
    ops2 = SPACE.ops(stage2)
    assert np.all(ops2[:, list(STAGE_EDGES[2])] == 0)  # node 2 not added yet: its edges are none
    assert np.all(ops2[:, list(STAGE_EDGES[1])] != 0)  # node 1 added and live (dead = its parent)
    stage3 = np.array(_drive(strategy, nb201, 6))
    prefix = list(STAGE_EDGES[0] + STAGE_EDGES[1])
    parents = {tuple(r) for r in ops2[:, prefix].tolist()}
    assert all(tuple(r) in parents for r in SPACE.ops(stage3)[:, prefix].tolist())
    assert strategy.stage_ == 3


def _stage1_cells() -> np.ndarray:
    ops = np.zeros((5, 6), dtype=np.int64)
    ops[:, 3] = np.arange(5)
    return SPACE.indices_from_ops(ops)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"acquisition": "pi"}, "unknown acquisition 'pi'; accepted: ei, ucb, its, mean"),
        ({"optimizer": "bfgs"}, "accepted: mutation, random, mutation\\+random, all"),
        ({"n_init": -1}, "n_init=-1 is invalid; accepted: an integer 0..15625"),
        ({"batch_size": 0}, "batch_size=0 is invalid"),
        ({"predictor_options": "fast"}, "predictor_options='fast' is invalid"),
        ({"ucb_beta": float("nan")}, "ucb_beta=nan is invalid"),
        ({"dedupe_isomorphs": "yes"}, "dedupe_isomorphs='yes' is invalid"),
    ],
)
def test_bad_options_fail_with_one_clear_line(options, message):
    from strategies.bayesopt import BayesOptGP

    with pytest.raises(NasscoutError, match=message):
        BayesOptGP(SPACE, seed=0, **options)
