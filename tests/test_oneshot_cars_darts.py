"""CARS and first-order DARTS on the supernet: the OneShotMethod contract, determinism, exact resume, and what
each method promises (a non-dominated front; alpha that moves and an argmax cell of the space)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from strategies.nsga import cars_select
from strategies.oneshot.base import OneShotMethod
from strategies.oneshot.cars import CARS
from strategies.oneshot.darts import DARTS, argmax_cell
from surrogate.costmodel import params_m
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.data import load_splits
from surrogate.training.presets import get_preset
from surrogate.training.supernet import SharedWeights

SPACE = NB201Space()
SMALL = get_preset("cpu-mini", {"n_train": 256, "n_valid": 128, "n_test": 128, "batch_size": 64})
CARS_OPTS = {"pop_size": 4, "warmup_epochs": 1}


@pytest.fixture(scope="module")
def splits():
    return load_splits("fashion-mnist", SMALL)


def _make(cls, splits, seed, epochs, **opts) -> OneShotMethod:
    sw = SharedWeights("fashion-mnist", SMALL, seed=seed, epochs=epochs, splits=splits)
    return cls(sw, seed=seed, **opts)


def _search(cls, splits, seed=0, epochs=2, **opts):
    """The driver's loop, in miniature: SharedWeights(epochs=n), then run_epoch for every epoch."""
    m = _make(cls, splits, seed, epochs, **opts)
    rows = [m.run_epoch(e, epochs) for e in range(epochs)]
    return m, rows, m.result()


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN (curve rows hold NaN for what is not measured yet)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


METHODS = [(CARS, CARS_OPTS, 3), (DARTS, {}, 2)]


@pytest.mark.parametrize(("cls", "opts", "epochs"), METHODS, ids=["cars", "darts"])
def test_contract_rows_and_result(splits, cls, opts, epochs):
    m, rows, out = _search(cls, splits, epochs=epochs, **opts)
    assert [r["epoch"] for r in rows] == list(range(epochs))
    for row in rows:
        assert all(isinstance(v, (int, float)) for v in row.values()), row
        assert math.isfinite(row["train_loss"]) and row["train_loss"] > 0
    assert out.method == cls.name
    assert out.chosen and len(out.chosen) == len(out.scores)
    assert all(isinstance(c, int) and 0 <= c < SPACE.n_cells for c in out.chosen)
    assert all(0.0 <= s <= 100.0 for s in out.scores)
    assert m.sw.step == epochs * m.sw.steps_per_epoch  # the budget is what the shared weights got
    _roundtrip(m.state_dict())  # tensors and plain data only


@pytest.mark.parametrize(("cls", "opts", "epochs"), METHODS, ids=["cars", "darts"])
def test_deterministic_per_seed(splits, cls, opts, epochs):
    _, rows_a, a = _search(cls, splits, seed=5, epochs=epochs, **opts)
    _, rows_b, b = _search(cls, splits, seed=5, epochs=epochs, **opts)
    assert _same(rows_a, rows_b) and _same(a.__dict__, b.__dict__)
    _, rows_c, c = _search(cls, splits, seed=6, epochs=epochs, **opts)
    assert not _same(rows_a, rows_c)


@pytest.mark.parametrize(
    ("cls", "opts", "epochs", "cut"),
    [(CARS, CARS_OPTS, 3, 1), (CARS, CARS_OPTS, 3, 2), (DARTS, {}, 3, 1)],
    ids=["cars-after-warmup", "cars-mid-evolution", "darts"],
)
def test_resume_mid_search_is_bit_identical(splits, cls, opts, epochs, cut):
    full, rows_full, out_full = _search(cls, splits, seed=2, epochs=epochs, **opts)
    first = _make(cls, splits, 2, epochs, **opts)
    rows = [first.run_epoch(e, epochs) for e in range(cut)]
    sw_state, m_state = _roundtrip(first.sw.state_dict()), _roundtrip(first.state_dict())
    resumed = _make(cls, splits, 2, epochs, **opts)
    resumed.sw.load_state_dict(sw_state)
    resumed.load_state_dict(m_state)
    rows += [resumed.run_epoch(e, epochs) for e in range(cut, epochs)]
    assert _same(rows, rows_full)
    assert _same(resumed.result().__dict__, out_full.__dict__)
    for a, b in zip(full.sw.net.state_dict().values(), resumed.sw.net.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("cls", "opts"), [(CARS, CARS_OPTS), (DARTS, {})], ids=["cars", "darts"])
def test_resume_also_when_the_shared_weights_are_loaded_before_the_method_is_built(
    splits, cls, opts
):
    _, rows_full, out_full = _search(cls, splits, seed=4, epochs=3, **opts)
    first = _make(cls, splits, 4, 3, **opts)
    rows = [first.run_epoch(e, 3) for e in range(2)]
    sw_state, m_state = _roundtrip(first.sw.state_dict()), _roundtrip(first.state_dict())
    sw = SharedWeights("fashion-mnist", SMALL, seed=4, epochs=3, splits=splits)
    sw.load_state_dict(sw_state)  # DARTS's halves come with the state
    resumed = cls(sw, seed=4, **opts)
    resumed.load_state_dict(m_state)
    rows.append(resumed.run_epoch(2, 3))
    assert _same(rows, rows_full) and _same(resumed.result().__dict__, out_full.__dict__)


def test_cars_front_is_non_dominated_and_comes_from_the_population(splits):
    m, rows, out = _search(CARS, splits, seed=1, epochs=3, pop_size=6, warmup_epochs=1)
    pop = out.extra["population"]
    assert len(pop) == len(set(pop)) == 6 and set(out.chosen) <= set(pop)
    acc, size = np.array(out.scores), np.array(out.extra["params_m"])
    assert np.allclose(size, params_m(out.chosen, n_classes=10, C=SMALL.C, N=SMALL.N))
    for i in range(len(acc)):
        dominated = (acc >= acc[i]) & (size <= size[i]) & ((acc > acc[i]) | (size < size[i]))
        assert not dominated.any(), (i, acc, size)
    # every population member not on the front is dominated by a front member
    pop_acc = np.array(out.extra["population_scores"])
    pop_size = params_m(pop, n_classes=10, C=SMALL.C, N=SMALL.N)
    for c, a, s in zip(pop, pop_acc, pop_size):
        if c not in out.chosen:
            assert ((acc >= a) & (size <= s) & ((acc > a) | (size < s))).any()
    assert list(acc) == sorted(acc, reverse=True)  # best accuracy first
    assert rows[0]["warmup"] == 1 and rows[1]["warmup"] == 0
    assert [r["generation"] for r in rows] == [0, 1, 2] and out.extra["generations"] == 2
    assert len(out.extra["valid_scores"]) == len(out.chosen)


def test_cars_growth_is_measured_against_the_previous_weights(splits):
    """The accuracy increase is current score minus the score with the snapshot weights; scoring at the
    snapshot leaves the shared weights exactly as they were."""
    m = _make(CARS, splits, 3, 3, pop_size=4, warmup_epochs=1)
    m.run_epoch(0, 3)
    m.run_epoch(1, 3)  # first architecture step: the snapshot is now these weights
    before = {k: v.clone() for k, v in m.sw.net.state_dict().items()}
    pop, scores, growth = m.population.copy(), m.pop_scores.copy(), m.pop_growth.copy()
    assert np.isfinite(growth).all() and np.array_equal(m._score_at_reference(pop), scores)
    for k, v in m.sw.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    m.run_epoch(2, 3)
    survivors = np.isin(m.population, pop)
    assert survivors.any()
    old = dict(zip(pop.tolist(), scores))
    want = m.pop_scores[survivors] - np.array([old[c] for c in m.population[survivors]])
    assert np.allclose(m.pop_growth[survivors], want)


def test_cars_select_keeps_a_slow_starter_that_plain_sorting_drops():
    """The protection: a large cell with the lowest accuracy but the steepest rise survives."""
    acc = np.array([80.0, 79.0, 78.0, 70.0])
    size = np.array([0.02, 0.03, 0.04, 0.09])
    growth = np.array([0.5, 0.4, 0.3, 6.0])
    plain = cars_select([np.c_[-acc, size]], 3, np.random.default_rng(0))
    protected = cars_select([np.c_[-acc, size], np.c_[-growth, size]], 3, np.random.default_rng(0))
    assert 3 not in plain and 3 in protected


def test_darts_alpha_moves_and_the_argmax_cell_is_valid(splits):
    m, rows, out = _search(DARTS, splits, seed=0, epochs=2)
    alpha = torch.tensor(out.extra["alpha"])
    start = _make(DARTS, splits, 0, 2).alpha.detach()
    assert alpha.shape == (6, 5) and (alpha - start).abs().max() > 1e-4  # 4 Adam steps of lr 3e-4
    soft = torch.tensor(out.extra["softmax"])
    assert torch.allclose(soft.sum(1), torch.ones(6))
    assert out.chosen == [argmax_cell(alpha, allow_none=True)] == [out.extra["cell_with_none"]]
    assert tuple(SPACE.ops(out.chosen[0])[0]) == tuple(alpha.argmax(1).tolist())
    assert 0 not in SPACE.ops(out.extra["cell_without_none"])[0]
    assert len(out.extra["softmax_trajectory"]) == 2
    assert all(
        sum(r[f"n_{k}"] for k in ("none", "skip", "conv1", "conv3", "pool")) == 6 for r in rows
    )
    # the two halves: disjoint training images, weights trained on one (half the steps of an epoch)
    w, a = set(m.weight_rows.tolist()), set(m.arch_rows.tolist())
    assert not w & a and w | a == set(range(SMALL.n_train))
    assert m.sw.steps_per_epoch == math.ceil(len(w) / SMALL.batch_size)
    other = _search(DARTS, splits, seed=0, epochs=2, argmax_none=False)[2]
    assert 0 not in SPACE.ops(other.chosen[0])[0]


def test_use_training_rows_is_checked(splits):
    sw = SharedWeights("fashion-mnist", SMALL, seed=0, epochs=1, splits=splits)
    for bad in ([], [0, 0], [-1], [SMALL.n_train]):
        with pytest.raises(NasscoutError, match="training rows"):
            sw.use_training_rows(bad)
    sw.use_training_rows(range(100))
    assert sw.steps_per_epoch == math.ceil(100 / SMALL.batch_size)
    xb, _ = sw.next_batch()
    sw.train_step(xb, _, 0)
    sw.use_training_rows(range(100))  # the same rows again: nothing to do
    with pytest.raises(NasscoutError, match="before the first step"):
        sw.use_training_rows(range(10))
    other = SharedWeights("fashion-mnist", SMALL, seed=0, epochs=1, splits=splits)
    other.use_training_rows(range(50))
    with pytest.raises(NasscoutError, match="training images"):
        other.load_state_dict(sw.state_dict())
    fresh = SharedWeights("fashion-mnist", SMALL, seed=0, epochs=1, splits=splits)
    fresh.load_state_dict(sw.state_dict())  # adopts the rows of the state
    assert fresh.steps_per_epoch == sw.steps_per_epoch and torch.equal(
        fresh.next_batch()[0], sw.next_batch()[0]
    )
    plain = SharedWeights("fashion-mnist", SMALL, seed=0, epochs=1, splits=splits)
    with pytest.raises(NasscoutError, match="training images"):
        other.load_state_dict(plain.state_dict())


@pytest.mark.parametrize(
    ("cls", "opts", "match"),
    [
        (CARS, {"pop_size": 1}, "pop_size=1"),
        (CARS, {"protect": "speed"}, "protect='speed'"),
        (CARS, {"warmup_epochs": 2}, "warmup_epochs=2"),
        (CARS, {"interval": 0}, "interval=0"),
        (CARS, {"offspring": 0}, "offspring=0"),
        (CARS, {"eval_images": 0}, "eval_images=0"),
        (CARS, {"population": 8}, "unknown option 'population'"),
        (DARTS, {"arch_lr": -1}, "arch_lr=-1"),
        (DARTS, {"arch_betas": (0.5,)}, "arch_betas"),
        (DARTS, {"train_portion": 1.0}, "train_portion=1.0"),
        (DARTS, {"argmax_none": "yes"}, "argmax_none='yes'"),
        (DARTS, {"lr": 0.1}, "unknown option 'lr'"),
    ],
)
def test_bad_options_are_one_clear_line(splits, cls, opts, match):
    with pytest.raises(NasscoutError, match=match) as err:
        _make(cls, splits, 0, 2, **opts)
    assert "\n" not in str(err.value) and "accepted" in str(err.value)


@pytest.mark.parametrize(("cls", "opts"), [(CARS, CARS_OPTS), (DARTS, {})], ids=["cars", "darts"])
def test_an_epoch_outside_the_budget_is_refused(splits, cls, opts):
    m = _make(cls, splits, 0, 2, **opts)
    with pytest.raises(NasscoutError, match="epoch 0 of 3"):
        m.run_epoch(0, 3)
    with pytest.raises(NasscoutError, match="epoch 2 of 2"):
        m.run_epoch(2, 2)
