"""Epochs of one schedule as fidelities (surrogate/epochs.py) and sh/hyperband promoting by extrapolated final.

On the real Fashion-MNIST mini table (one 20-epoch schedule with curves): a rung's value is the curve's
value at that epoch, its cost the seconds up to it; sh promotes by the extrapolator's mean at the top rung
only there, and refuses it on NB201's separate 12/200-epoch schedules.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from strategies.runner import Runner
from surrogate.epochs import EpochFidelities
from surrogate.errors import NasscoutError

MINI = Path(__file__).resolve().parents[1] / "datasets" / "nb201-fmnist-mini.h5"
DS = "fashion-mnist"


@cache
def _table():
    from surrogate.tabular import TabularBenchmark

    return TabularBenchmark.open(MINI)


@cache
def _view(rungs=(5, 20)) -> EpochFidelities:
    return EpochFidelities(_table(), rungs)


def _has(name: str) -> bool:
    from predictors.curves import extrapolator_class

    try:
        extrapolator_class(name)
        return True
    except ImportError:
        return False


def test_a_rung_is_the_curve_at_that_epoch_and_costs_its_seconds():
    t, v = _table(), _view()
    cells = t.cells_for(DS)[:50]
    assert v.fidelities_for(DS) == (5, 20) and v.fidelity_kind == "epochs"
    curves = t.curves(cells, dataset=DS, fidelity=20, seed=0)
    assert np.array_equal(v.query(cells, dataset=DS, fidelity=5, seed=0).valid_acc, curves[:, 4])
    top = v.query(cells, dataset=DS, fidelity=20, seed="mean")
    assert np.array_equal(top.valid_acc, t.query(cells, dataset=DS, seed="mean").valid_acc)
    secs = sum(
        t.curves(cells, dataset=DS, fidelity=20, metric=m, seed="mean")[:, :5].sum(axis=1)
        for m in ("epoch_time_s", "valid_time_s")
    )
    assert np.allclose(v.cost(cells, dataset=DS, fidelity=5), secs, rtol=1e-5)
    assert np.allclose(v.cost(cells, dataset=DS, fidelity=20), t.cost(cells, dataset=DS))
    assert v.best(DS) == t.best(DS)
    assert v.curves(cells, dataset=DS, fidelity=5).shape == (50, 5)
    # a Generator draws the same seed for the rung's value as the table does for the final one
    g = np.random.default_rng(0)
    assert len(v.query(cells, dataset=DS, fidelity=5, seed=g)) == 50


@pytest.mark.parametrize("rungs", [(5,), (5, 19), (0, 20), ()])
def test_bad_rungs_are_one_line(rungs):
    with pytest.raises(
        NasscoutError, match="rungs .* are invalid; accepted: two or more epochs"
    ) as e:
        EpochFidelities(_table(), rungs)
    assert "\n" not in str(e.value)


def test_separate_schedules_are_never_spliced(nb201):
    with pytest.raises(NasscoutError, match="epochs of one schedule need a table with exactly one"):
        EpochFidelities(nb201, (12, 200))
    runner = Runner(nb201, dataset="cifar10", seed=0, budget_queries=12)
    with pytest.raises(
        NasscoutError, match="needs rungs that are epochs of one training schedule"
    ) as e:
        runner.run("sh", options={"promote": "extrapolated"})
    assert "\n" not in str(e.value)
    with pytest.raises(NasscoutError, match="promote 'best' is invalid"):
        Runner(_view(), dataset=DS, seed=0, budget_queries=12).run(
            "sh", options={"promote": "best"}
        )


def _sh(seed: int, replay=None, **options):
    runner = Runner(_view(), dataset=DS, seed=seed, budget_queries=24)
    return runner.run("sh", options=options, replay=replay)


def _rows(traj):
    return [r._replace(wall_time_s=0.0) for r in traj.rows]


def test_sh_on_epochs_screens_at_the_lower_rung():
    traj = _sh(0)
    fids = traj.column("fidelity")
    assert set(fids.tolist()) == {5, 20} and (fids == 5).sum() > (fids == 20).sum()
    # a rung's cost is its share of the training; regret counts full trainings only
    assert (traj.column("cost_s")[fids == 5] < traj.column("train_time_s")[fids == 5] + 1e-9).all()
    assert np.isfinite(traj.regret()[-1])


@pytest.mark.skipif(not _has("last"), reason="the `last` extrapolator is not in this tree yet")
def test_promoting_by_the_last_value_extrapolated_is_promoting_by_the_observed_value():
    """`last` (unfitted) predicts the final as the last value seen, so ranking by its mean must promote
    exactly the cells the observed values promote: the curves reach sh intact, the seed's own."""
    for seed in range(3):
        a = _sh(seed, promote="extrapolated", extrapolator="last")
        assert [r.index for r in a.rows] == [r.index for r in _sh(seed).rows]


@pytest.mark.skipif(not _has("best"), reason="the `best` extrapolator is not in this tree yet")
def test_promoting_by_extrapolated_final_is_deterministic_and_resumes_exactly():
    ref = _sh(1, promote="extrapolated", extrapolator="best")
    assert _rows(_sh(1, promote="extrapolated", extrapolator="best")) == _rows(ref)
    replay = {r.trial: r for r in ref.rows[:10]}
    assert _rows(_sh(1, replay=replay, promote="extrapolated", extrapolator="best")) == _rows(ref)
