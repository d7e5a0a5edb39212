"""Early stopping inside searches (strategies/pruning.py) on our real Fashion-MNIST curves.

- the rules: the median rule's semantics checked against a direct loop; Domhan's rule stops a hopeless
  curve and never the best one;
- the runner: a stopped trial costs only its epochs (the table's per-epoch seconds), is recorded with its
  epoch, prediction and real final, never becomes the incumbent; same seed -> same rows; resume from a
  journal prefix is exact; the runner decides exactly as the vectorised protocol simulation does;
- rows: old journal lines (without the fields) still load, stopped rows round-trip;
- the option: bad values and benchmarks without curves are one line.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from strategies.pruning import (
    CurveTable,
    EarlyStop,
    check_benchmark,
    make_early_stop,
    median_stop_epoch,
)
from strategies.pruning_sim import domhan_table, random_orders, simulate
from strategies.row import BASE_FIELDS, Row
from strategies.runner import Runner, incumbent_positions
from surrogate.errors import NasscoutError

MINI = Path(__file__).resolve().parents[1] / "datasets" / "nb201-fmnist-mini.h5"
DS = "fashion-mnist"


@cache
def _mini():
    from surrogate.tabular import TabularBenchmark

    return TabularBenchmark.open(MINI)


@cache
def _table() -> CurveTable:
    return CurveTable(_mini(), DS, 20)


@cache
def _available(names: tuple[str, ...]) -> str | None:
    from predictors.curves import extrapolator_class

    for name in names:
        try:
            extrapolator_class(name)
            return name
        except ImportError:
            continue
    return None


def _extrapolator_name(prefer: tuple[str, ...] = ("fast", "last")) -> str:
    """An extrapolator for Domhan's rule: the first of ``prefer`` in this tree (the learning-curve
    extrapolators arrive on their own branches; without any, the Domhan tests skip)."""
    name = _available(prefer)
    if name is None:
        pytest.skip(f"none of the extrapolators {', '.join(prefer)} is in this tree yet")
    return name


# the runner tests check bookkeeping, not prediction quality: the cheapest extrapolator will do
RUNNER_EXTRAPOLATORS = ("last", "best", "fast")


def _run(rule: str, seed: int = 0, replay=None, strategy: str = "rs", **kw):
    opts = {"extrapolator": _extrapolator_name(RUNNER_EXTRAPOLATORS)} if rule == "domhan" else {}
    es = make_early_stop(rule, **({"min_epochs": 2} | opts | kw))  # from epoch 2: stops to check
    runner = Runner(_mini(), dataset=DS, seed=seed, budget_queries=40, early_stop=es)
    return runner.run(strategy, replay=replay)


def _rows(traj) -> list[Row]:
    return [r._replace(wall_time_s=0.0) for r in traj.rows]


# ---- the rules ---------------------------------------------------------------------------------------------
def test_median_rule_matches_its_definition_on_real_curves():
    curves = _table().mean
    rng = np.random.default_rng(0)
    done, watched = curves[rng.choice(200, 7, replace=False)], curves[:40]
    checkpoints = np.arange(2, 20)
    got = median_stop_epoch(watched, done, checkpoints)
    for curve, k in zip(watched, got):
        want = 0
        for t in checkpoints:  # Vizier: best so far at t below the median of running averages at t
            if np.max(curve[:t]) < np.median([np.mean(c[:t]) for c in done]):
                want = t
                break
        assert k == want
    assert 0 < (got > 0).sum() < len(watched)  # some stopped, some not: the test can fail both ways
    # strictly worse: a curve sitting exactly on the median running average is never stopped
    med = np.median(np.cumsum(done, axis=1) / np.arange(1, 21), axis=0)
    assert median_stop_epoch(np.maximum.accumulate(med)[None], done, checkpoints)[0] == 0


def test_median_rule_waits_for_completed_trials():
    curves = _table().mean
    assert median_stop_epoch(curves[:5], curves[:0], np.arange(2, 20)).tolist() == [0] * 5


def test_domhan_stops_a_hopeless_curve_and_never_the_best():
    from predictors.curves import Curves, make_extrapolator

    curves = _table().mean
    finals = curves[:, -1]
    best, worst = int(np.argmax(finals)), int(np.argmin(finals))
    assert finals[best] - finals[worst] > 5  # the mini set spans the accuracy range
    checkpoints = np.arange(EarlyStop("domhan").first_checkpoint(20), 20)  # the default ones: 5..19
    idx = np.array([best, worst])
    # the best final so far is the median cell's: P(final_i > that) for i in (best, worst), every checkpoint
    median_cell = int(np.argsort(finals)[100])
    # `best` (best so far, wide unfitted spread) where present: `last` stops the best cell, whose curve
    # dips to 35.8% at epoch 11; the committed `fast` (cdc68fc) keeps a std of ~15 points at epoch 19 of
    # 20 on these noisy curves, so it stops almost nothing from epoch 5
    ext = make_extrapolator(_extrapolator_name(("best", "fast")))
    probs = np.stack(
        [
            ext.predict(Curves(curves[idx]).cut(k), 20).prob_above(finals[median_cell])
            for k in checkpoints
        ]
    )  # (K, 2)
    assert (probs[:, 0] >= 0.05).all(), "the best curve would be stopped"
    assert probs[-1, 1] < 0.05, "a hopeless curve is continued to the end"
    # over the second half the worse one looks worse (earlier, real curves cross: at epoch 6 the worst
    # cell's best so far is above the best cell's)
    assert (probs[-10:, 1] < probs[-10:, 0]).all()


def test_simulation_reference_and_savings():
    t = _table()
    curves, frac = t.mean, t.cost_fraction
    cost = _mini().cost(t.cells, dataset=DS, fidelity=20)
    orders = random_orders(200, 30, seed=0)
    none = simulate(make_early_stop("none"), curves, cost, frac, orders)
    assert none.summary()["epoch_saving"] == 1.0 and (none.regret == 0).all()
    med = simulate(make_early_stop("median", min_epochs=2), curves, cost, frac, orders)
    s = med.summary()
    assert s["epoch_saving"] > 1.2 and s["stopped_mean"] > 20
    assert (med.regret >= 0).all() and med.regret.max() < finals_span(curves)
    # the orders are a function of the seed alone
    assert (random_orders(200, 30, seed=0) == orders).all()
    assert not (random_orders(200, 30, seed=1) == orders).all()


def finals_span(curves: np.ndarray) -> float:
    return float(curves[:, -1].max() - curves[:, -1].min())


# ---- the runner ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["median", "domhan"])
def test_stopped_trials_cost_only_their_epochs_and_are_recorded(rule):
    traj = _run(rule)
    b = _mini()
    stopped = [r for r in traj.rows if r.stopped]
    assert stopped and len(stopped) < len(traj)
    prev = 0.0
    for r in traj.rows:
        assert math.isclose(r.sim_time_s - prev, r.cost_s, rel_tol=1e-9, abs_tol=1e-9)  # one worker
        prev = r.sim_time_s
        full = float(b.cost([r.index], dataset=DS, fidelity=20)[0])
        curve = b.curves([r.index], dataset=DS, fidelity=20, seed=0)[0]
        if not r.stopped:
            assert r.cost_s == pytest.approx(full) and math.isnan(r.final_acc)
            continue
        k = r.stopped_at
        assert 1 <= k < 20
        # seconds of the first k epochs: training + validation, straight from the table's curves
        secs = sum(
            b.curves([r.index], dataset=DS, fidelity=20, metric=m, seed=0)[0][:k].sum()
            for m in ("epoch_time_s", "valid_time_s")
        )
        assert r.cost_s == pytest.approx(secs, rel=1e-5) and r.cost_s < full
        assert r.observed_acc == curve[k - 1] and r.final_acc == curve[-1]
        assert r.true_acc == pytest.approx(
            curve[-1]
        )  # one seed: the truth is the same training's end
        assert math.isnan(r.predicted_acc) == (rule == "median")
    assert traj.column("cost_s").sum() < traj.column("train_time_s").sum()


def test_the_incumbent_is_never_a_stopped_trial():
    traj = _run("domhan")
    done = traj.column("stopped_at") == 0
    pos = incumbent_positions(traj.column("observed_acc"), done)
    assert (pos >= 0).all() and done[pos].all()
    # what regret reports is that incumbent's truth
    assert np.allclose(traj.regret(), traj.best_valid_acc - traj.column("true_acc")[pos])
    # a stopped row told the strategy its prediction where it has one
    s = next(r for r in traj.rows if r.stopped)
    assert s.told_acc == (s.predicted_acc if math.isfinite(s.predicted_acc) else s.observed_acc)


@pytest.mark.parametrize("rule", ["median", "domhan"])
def test_same_seed_same_rows_and_exact_resume(rule):
    ref = _run(rule, seed=3)
    assert _rows(_run(rule, seed=3)) == _rows(ref)
    assert [r.index for r in _run(rule, seed=4).rows] != [r.index for r in ref.rows]
    for cut in (7, 20):
        replay = {r.trial: r for r in ref.rows[:cut]}  # what a killed run left in its journal
        assert _rows(_run(rule, seed=3, replay=replay)) == _rows(ref)


def test_no_early_stopping_changes_nothing():
    plain = Runner(_mini(), dataset=DS, seed=0, budget_queries=40).run("rea")
    none = _run("none", strategy="rea")
    assert _rows(none) == _rows(plain)
    # a run without early stopping writes exactly the journal lines it always wrote
    assert all(tuple(json.loads(r.to_json())) == BASE_FIELDS for r in plain.rows)


@pytest.mark.parametrize("rule", ["median", "domhan"])
def test_runner_decides_as_the_protocol_simulation(rule):
    """The runner with random search and the vectorised simulation, on the same order: same stops."""
    traj = _run(rule)
    t = _table()
    order = np.array([t.row[r.index] for r in traj.rows])
    assert len(set(order.tolist())) == len(order)  # random search on a table: no repeats here
    cost = _mini().cost(t.cells, dataset=DS, fidelity=20)
    es = make_early_stop(
        rule,
        min_epochs=2,
        **({"extrapolator": _extrapolator_name(RUNNER_EXTRAPOLATORS)} if rule == "domhan" else {}),
    )
    curves = t.mean[order]  # one recorded seed: the mean curve is the observed one
    P = None
    if rule == "domhan":
        from predictors.curves import make_extrapolator

        P, _ = domhan_table(curves, np.arange(2, 20), make_extrapolator(es.extrapolator))
    res = simulate(
        es, curves, cost[order], t.cost_fraction[order], np.arange(len(order))[None], P=P
    )
    assert res.stopped[0] == sum(r.stopped for r in traj.rows)
    assert res.epochs[0] == sum(r.stopped_at or 20 for r in traj.rows)


# ---- rows and journals ------------------------------------------------------------------------------------
def test_old_journal_lines_load_and_stopped_rows_round_trip():
    old = {
        "strategy": "rs", "seed": 0, "trial": 0, "index": 8935, "fidelity": 20, "observed_acc": 82.25,
        "true_acc": 82.25, "test_acc": 83.8, "cost_s": 139.4, "sim_time_s": 139.4, "wall_time_s": 0.1,
        "params_m": 0.03, "latency_s": None, "train_time_s": 139.4, "flops_m": 1.07,
    }  # fmt: skip
    r = Row.from_json(old)
    assert r.stopped_at == 0 and not r.stopped and math.isnan(r.final_acc)
    assert json.loads(r.to_json()) == old
    s = r._replace(stopped_at=3, predicted_acc=70.5, final_acc=81.0, cost_s=12.0)
    back = Row.from_json(json.loads(s.to_json()))
    assert back == s and back.stopped and back.told_acc == 70.5


# ---- the option ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rule": "mediann"}, "--early-stop 'mediann' is invalid; accepted: none, median, domhan"),
        ({"rule": "domhan", "threshold": 1.5}, "--early-stop-threshold 1.5 is invalid"),
        ({"rule": "domhan", "threshold": "x"}, "--early-stop-threshold 'x' is invalid"),
        ({"rule": "domhan", "extrapolator": "nope"}, "--early-stop-extrapolator 'nope' is invalid"),
        (
            {"rule": "domhan", "extrapolator": "sotle"},
            "reads train_loss, which the pruner does not pass",
        ),
        ({"rule": "domhan", "fit": "yes"}, "--early-stop-fit 'yes' is invalid"),
        ({"rule": "median", "min_epochs": 0}, "--early-stop-min-epochs 0 is invalid"),
        ({"rule": "median", "min_completed": -1}, "--early-stop-min-completed -1 is invalid"),
        (
            {"rule": "domhan", "fit": True, "min_completed": 2},
            "--early-stop-min-completed 2 is invalid with --early-stop-fit; accepted: an integer >= 3",
        ),
    ],
)
def test_bad_options_are_one_line(kwargs, match):
    if kwargs.get("extrapolator") == "sotle" and _available(("sotle",)) is None:
        pytest.skip("sotle (a fitted extrapolator) is not in this tree yet")
    with pytest.raises(NasscoutError, match=match.replace("(", r"\(")) as err:
        make_early_stop(**kwargs)
    assert "\n" not in str(err.value)


def test_benchmarks_without_curves_are_refused(nb201):
    with pytest.raises(NasscoutError, match="needs per-epoch valid_acc curves") as err:
        check_benchmark(EarlyStop("median"), nb201, "cifar10")
    assert "\n" not in str(err.value)
    check_benchmark(EarlyStop("none"), nb201, "cifar10")  # nothing to check without early stopping
    with pytest.raises(NasscoutError, match="min-epochs 20 is invalid for 20-epoch"):
        check_benchmark(make_early_stop("median", min_epochs=20), _mini(), DS)


# ---- nasscout run --early-stop -------------------------------------------------------------------------
def _cli(capsys, *args) -> tuple[int, str, str]:
    from cli_calls import nasscout

    return nasscout(capsys, *args)


def test_cli_early_stop_recorded_reported_and_resumed_exactly(capsys, tmp_path):
    from strategies.results import load_results

    args = ["run", "--benchmark", MINI, "--dataset", DS, "--strategy", "rs,rea", "--seeds", "2"]
    args += ["--budget-queries", "30", "--jobs", "1", "-q", "--early-stop", "median"]
    args += ["--early-stop-min-epochs", "2"]
    code, _, err = _cli(capsys, *args, "--out", tmp_path / "a")
    assert code == 0, err
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["config"]["early_stop"] == {
        "rule": "median",
        "min_epochs": 2,
        "min_completed": None,
    }
    df, _ = load_results(tmp_path / "a")
    assert (df["stopped_at"] > 0).any() and (df["stopped_at"] == 0).any()
    stopped = df[df["stopped_at"] > 0]
    assert (stopped["final_acc"].notna()).all() and (
        stopped["cost_s"] < stopped["train_time_s"]
    ).all()
    code, out, _ = _cli(capsys, "report", tmp_path / "a", "--no-plots")
    assert code == 0 and "early stopping median" in out and "fewer epochs" in out
    # kill mid-way (a journal prefix with a torn last line), resume: the same results.csv
    journal = tmp_path / "a" / "journal.jsonl"
    b = tmp_path / "b"
    b.mkdir()
    (b / "meta.json").write_text((tmp_path / "a" / "meta.json").read_text())
    lines = journal.read_text().splitlines(keepends=True)
    (b / "journal.jsonl").write_text("".join(lines[:45]) + lines[45][:30])
    code, _, err = _cli(capsys, "run", "--out", b, "--resume", "-q")
    assert code == 0, err
    assert _no_wall(b / "results.csv") == _no_wall(tmp_path / "a" / "results.csv")
    # another setting on resume is refused in one line, naming both
    code, _, err = _cli(capsys, "run", "--out", b, "--resume", "--early-stop", "none")
    assert code == 2 and err.count("\n") == 1
    assert "--early-stop none differs from the run's median (min epochs 2)" in err


def _no_wall(path: Path) -> list[str]:
    from strategies.results import COLUMNS

    wall = COLUMNS.index("wall_time_s")
    return [
        ",".join(f for i, f in enumerate(line.split(",")) if i != wall)
        for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize(
    "extra, match",
    [
        (
            ["--early-stop", "sometimes"],
            "--early-stop 'sometimes' is invalid; accepted: none, median, domhan",
        ),
        (
            ["--early-stop", "domhan", "--early-stop-threshold", "0"],
            "--early-stop-threshold 0.0 is invalid",
        ),
        (
            ["--early-stop", "median", "--early-stop-min-epochs", "25"],
            "min-epochs 25 is invalid for 20-epoch",
        ),
    ],
)
def test_cli_bad_early_stop_is_one_line(capsys, tmp_path, extra, match):
    args = [
        "run",
        "--benchmark",
        MINI,
        "--dataset",
        DS,
        "--strategy",
        "rs",
        "--budget-queries",
        "5",
    ]
    code, _, err = _cli(capsys, *args, *extra, "--out", tmp_path / "x")
    assert code == 2 and err.count("\n") == 1 and match in err
    assert not (tmp_path / "x").exists()  # refused before the run directory is touched


def test_cli_benchmark_without_curves_is_one_line(capsys, tmp_path, nb201):
    args = ["run", "--strategy", "rs", "--budget-queries", "5", "--early-stop", "median"]
    code, _, err = _cli(capsys, *args, "--out", tmp_path / "x")
    assert code == 2 and err.count("\n") == 1
    assert "needs per-epoch valid_acc curves, and nb201 has none for cifar10" in err


def test_cli_rebuild_meta_replays_with_the_runs_early_stopping(capsys, tmp_path):
    args = [
        "run",
        "--benchmark",
        MINI,
        "--dataset",
        DS,
        "--strategy",
        "rs",
        "--budget-queries",
        "20",
    ]
    args += ["--jobs", "1", "-q", "--out", tmp_path / "r"]
    stop = ["--early-stop", "median", "--early-stop-min-epochs", "2"]
    assert _cli(capsys, *args, *stop)[0] == 0
    (tmp_path / "r" / "meta.json").unlink()
    code, _, err = _cli(capsys, *args, "--resume", "--rebuild-meta")  # without the stopping options
    assert code == 2 and "not what these options give" in err and "--early-stop" in err
    code, _, err = _cli(capsys, *args, "--resume", "--rebuild-meta", *stop)
    assert code == 0, err
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["config"]["early_stop"]["rule"] == "median"


def test_cli_min_completed_is_a_warm_up_recorded_in_meta(capsys, tmp_path):
    from strategies.results import load_results

    args = [
        "run", "--benchmark", MINI, "--dataset", DS, "--strategy", "rs", "--budget-queries", "30",
        "--jobs", "1", "-q", "--early-stop", "median", "--early-stop-min-epochs", "2",
    ]  # fmt: skip
    code, _, err = _cli(capsys, *args, "--early-stop-min-completed", "12", "--out", tmp_path / "a")
    assert code == 0, err
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["config"]["early_stop"]["min_completed"] == 12
    df, _ = load_results(tmp_path / "a")
    stopped = (df["stopped_at"] > 0).to_numpy()
    assert stopped.any() and (~stopped[: np.argmax(stopped)]).sum() >= 12
    fit = ["--early-stop", "domhan", "--early-stop-fit", "--early-stop-extrapolator", "last"]
    code, _, err = _cli(
        capsys, *args, *fit, "--early-stop-min-completed", "2", "--out", tmp_path / "b"
    )
    assert code == 2 and err.count("\n") == 1 and "--early-stop-min-completed 2 is invalid" in err
    assert not (tmp_path / "b").exists()


def test_fitting_on_completed_trainings_is_deterministic_and_resumes_exactly():
    """--early-stop-fit: the extrapolator learns from the trainings completed so far (from MIN_FIT on), so
    its decisions depend on the search's history; replaying a journal prefix must rebuild exactly that."""
    from strategies.pruning import MIN_FIT

    ref = _run("domhan", seed=5, fit=True)
    assert _rows(_run("domhan", seed=5, fit=True)) == _rows(ref)
    first_stop = next(i for i, r in enumerate(ref.rows) if r.stopped)
    assert sum(not r.stopped for r in ref.rows[:first_stop]) >= MIN_FIT
    plain = _run("domhan", seed=5)
    assert [r.stopped_at for r in plain.rows] != [r.stopped_at for r in ref.rows]  # the fit matters
    assert make_early_stop("domhan", fit=True).n_completed() == MIN_FIT == 10
    early = _run("domhan", seed=5, fit=True, min_completed=3)
    first = next(i for i, r in enumerate(early.rows) if r.stopped)
    assert (
        3 <= sum(not r.stopped for r in early.rows[:first]) < MIN_FIT
    )  # a shorter warm-up stops sooner
    for cut in (first_stop, 25):
        replay = {r.trial: r for r in ref.rows[:cut]}
        assert _rows(_run("domhan", seed=5, replay=replay, fit=True)) == _rows(ref)
