"""Strategy ``lowcost`` and the runner's charge for non-training work (``Trial.info["overhead_s"]``): the charge
lands in ``cost_s`` and on the simulated clock, a seed gives the same run, a resumed run the same rows; the
prior from another dataset's table is refused for the searched dataset itself; bad options are one line."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.cli.main import main
from strategies.lowcost import LowCost
from strategies.random_search import RandomSearch
from strategies.runner import Runner
from surrogate.errors import NasscoutError


class Charging(RandomSearch):
    """Random search that charges ``charge`` seconds of screening to every trial."""

    name = "charging"

    def __init__(self, space, *, seed, context=None, charge=100.0):
        super().__init__(space, seed=seed, context=context)
        self.charge = charge

    def ask(self):
        trial = super().ask()
        trial.info["overhead_s"] = self.charge
        return trial


def _rows(traj):
    return [r._replace(wall_time_s=0.0) for r in traj.rows]


def test_the_runner_charges_overhead_to_cost_and_clock(nb201):
    plain = Runner(nb201, dataset="cifar10", seed=3, budget_queries=12).run("rs")
    charged = Runner(nb201, dataset="cifar10", seed=3, budget_queries=12).run(Charging)
    assert [r.index for r in charged.rows] == [r.index for r in plain.rows]  # same draws
    np.testing.assert_allclose(charged.column("cost_s"), plain.column("cost_s") + 100.0)
    # one worker: the clock is the running sum of what each trial occupied its worker for
    np.testing.assert_allclose(
        charged.column("sim_time_s"), np.cumsum(plain.column("cost_s") + 100)
    )
    for bad in (-1.0, float("nan"), "5"):
        with pytest.raises(NasscoutError, match="overhead_s=.*accepted: a finite number") as err:
            Runner(nb201, dataset="cifar10", seed=0, budget_queries=3).run(
                Charging, options={"charge": bad}
            )
        assert "\n" not in str(err.value)


def _lowcost(nb201, seed=0, **options):
    runner = Runner(nb201, dataset="cifar10", seed=seed, budget_queries=45)
    strat = runner.make_strategy("lowcost", **options)
    return runner, strat, runner.run(strat)


def test_lowcost_charges_screening_in_cost_s_and_is_deterministic(nb201):
    runner, strat, traj = _lowcost(nb201, prior="cifar100")
    idx, fid = traj.column("index"), traj.column("fidelity")
    training = np.concatenate(
        [nb201.cost([i], dataset="cifar10", fidelity=int(f)) for i, f in zip(idx, fid)]
    )
    assert strat.overhead_s_ > 0 and strat.n_fits_ > 0 and "zen" in strat.proxies_
    # every charged second is in cost_s: training + proxies + fits, nothing else
    assert traj.column("cost_s").sum() == pytest.approx(training.sum() + strat.overhead_s_)
    assert (traj.column("cost_s") > training + 1e-9).any()
    assert set(fid.tolist()) == {12, 200}  # screened at 12 epochs, finalists trained to 200
    assert (fid == 12).sum() > (fid == 200).sum() >= 3
    assert _rows(_lowcost(nb201, prior="cifar100")[2]) == _rows(traj)  # same seed, same run
    assert [r.index for r in _lowcost(nb201, seed=1, prior="cifar100")[2].rows] != idx.tolist()


def test_lowcost_resumes_exactly_with_the_overhead_charged(nb201):
    _, _, ref = _lowcost(nb201)
    for cut in (7, 33):
        journal = {r.trial: r for r in ref.rows[:cut]}
        runner = Runner(nb201, dataset="cifar10", seed=0, budget_queries=45)
        assert _rows(runner.run("lowcost", replay=journal)) == _rows(ref)


def test_the_searched_datasets_own_table_is_refused_as_prior(nb201):
    with pytest.raises(NasscoutError, match="prior='CIFAR10' is the dataset being searched") as err:
        Runner(nb201, dataset="cifar10", seed=0, budget_queries=5).make_strategy(
            "lowcost", prior="CIFAR10"
        )
    assert "\n" not in str(err.value) and "cifar100, ImageNet16-120" in str(err.value)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"prior": "mnist"}, "prior='mnist' is no dataset of nb201"),
        ({"proxies": "zen,magic"}, "proxies='zen,magic' is invalid"),
        ({"predictor": "oracle"}, "oracle"),
        ({"n_screen": 0}, "n_screen=0 is invalid"),
        ({"fit_cost_s": -1.0}, "fit_cost_s=-1.0 is invalid"),
        ({"acquisition": "best"}, "unknown acquisition 'best'"),
        ({"use_screen_data": "yes"}, "use_screen_data='yes' is invalid"),
    ],
)
def test_bad_options_are_one_line(nb201, options, match):
    with pytest.raises(NasscoutError, match=match) as err:
        Runner(nb201, dataset="cifar10", seed=0, budget_queries=5).make_strategy(
            "lowcost", **options
        )
    assert "\n" not in str(err.value)


def test_cli_bad_option_exits_2_in_one_line(nb201, tmp_path, capsys):
    out = tmp_path / "r"
    args = [
        "run",
        "--strategy",
        "lowcost",
        "--seeds",
        "1",
        "--budget-queries",
        "5",
        "--out",
        str(out),
    ]
    for opt in ("lowcost.n_screen=three", "lowcost.prior=cifar10"):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--option", opt, "-q"])
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and len(err.splitlines()) == 1 and "lowcost" in err
    assert not (out / "results.csv").exists()


def test_without_tables_it_screens_by_the_predictor_alone(nb201):
    """No proxies and no prior (a benchmark without tables): proposals still come from the model."""
    _, strat, traj = _lowcost(nb201, proxies="none")
    assert strat.proxies_ == () and strat.overhead_s_ == pytest.approx(strat.n_fits_ * 1.0)
    assert len(traj) == 45 and isinstance(strat, LowCost)
