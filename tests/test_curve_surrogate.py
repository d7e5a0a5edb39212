"""Curve surrogates fitted on our Fashion-MNIST training runs: curves, noise, files, runs, validation, CLI."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from cli_calls import nasscout

from predictors.curve_surrogate_fit import (
    check_rungs,
    default_rungs,
    fit_curve_surrogate,
    fit_noise,
    load_component_models,
)
from strategies.curve_validate import validate_curves
from strategies.runner import Runner
from surrogate.curve_parts import CurveNoise, fit_representation, reconstruct
from surrogate.errors import DataError, NasscoutError
from surrogate.fitted import MAGIC, SurrogateBenchmark, read_header
from surrogate.fitted_curves import CurveSurrogateBenchmark
from surrogate.tabular import TabularBenchmark

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "datasets" / "nb201-fmnist-mini.h5"
LONG = REPO / "datasets" / "nb201-fmnist-long.h5"
QUICK = {"n_members": 1, "n_estimators": 60}
DS = "fashion-mnist"


@pytest.fixture(scope="module")
def mini() -> TabularBenchmark:
    return TabularBenchmark.open(MINI)


@pytest.fixture(scope="module")
def mini_file(mini, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("curves") / "mini.nss"
    fit_curve_surrogate(mini, DS, seed=0, options=QUICK, source_name=str(MINI)).save(path)
    return path


@pytest.fixture(scope="module")
def sur(mini_file) -> CurveSurrogateBenchmark:
    return SurrogateBenchmark.open(mini_file)


# ---- curves: shape, bounds, rungs, consistency of values and curves --------------------------------------------
def test_opens_as_a_curve_surrogate_with_epoch_rungs(sur, mini):
    assert isinstance(sur, CurveSurrogateBenchmark) and sur.kind == "surrogate"
    assert sur.fidelity_kind == "epochs" and sur.fidelities == default_rungs(20) == (2, 7, 20)
    assert sur.seeds(DS) == [0] and sur.header["curves"]["noise_source"] == "jitter"
    assert len(sur.cells_for(DS)) == 10_000  # the cells with the ops the mini set trained
    assert set(mini.cells_for(DS).tolist()) <= set(sur.cells_for(DS).tolist())


def test_curves_have_the_schedule_shape_and_stay_in_0_100(sur):
    cells = sur.cells_for(DS)
    mean = sur.curves(cells, dataset=DS, seed="mean")
    run = sur.curves(cells, dataset=DS, seed=0)
    assert mean.shape == run.shape == (len(cells), 20)
    assert np.all((mean > 0) & (mean < 100)) and np.all((run >= 0) & (run <= 100))
    assert not np.array_equal(mean, run)  # a run carries noise, the mean does not
    # curves rise overall: epoch-20 above epoch-1 for (nearly) every cell, as in the data
    assert np.mean(mean[:, -1] > mean[:, 0] + 20) > 0.95
    short = sur.curves(cells[:7], dataset=DS, fidelity=7, seed=0)
    assert np.array_equal(short, run[:7, :7])  # a rung is a prefix of the one schedule


def test_values_and_costs_at_rungs_are_the_curves(sur):
    cells = sur.cells_for(DS)[::97]
    for r in sur.fidelities:
        v = sur.query(cells, dataset=DS, fidelity=r, seed=0).valid_acc
        assert np.array_equal(v, sur.curves(cells, dataset=DS, fidelity=r, seed=0)[:, -1])
        m = sur.query(cells, dataset=DS, fidelity=r, seed="mean").valid_acc
        assert np.array_equal(m, sur.curves(cells, dataset=DS, fidelity=r, seed="mean")[:, -1])
        full = sur.cost(cells, dataset=DS, fidelity=20)
        assert np.allclose(sur.cost(cells, dataset=DS, fidelity=r), full * r / 20)
    # a Generator draws the same virtual run for a value and its curve (what the pruner relies on)
    v = sur.query(cells, dataset=DS, seed=np.random.default_rng(5)).valid_acc
    c = sur.curves(cells, dataset=DS, seed=np.random.default_rng(5))
    assert np.array_equal(v, c[:, -1])
    with pytest.raises(NasscoutError, match="no 'train_loss' curves.*recorded: valid_acc"):
        sur.curves(cells, dataset=DS, metric="train_loss")
    with pytest.raises(NasscoutError, match="unknown seed 3.*accepted: 'mean'"):
        sur.curves(cells, dataset=DS, seed=3)


def test_fitting_is_deterministic_per_seed(mini, sur):
    again = fit_curve_surrogate(mini, DS, seed=0, options=QUICK, source_name=str(MINI))
    for k in ("curve/latent", "curve/donor", "curve/perm", "curve/noise/pool"):
        assert np.array_equal(again._compact[k], sur._compact[k]), k
    other = fit_curve_surrogate(mini, DS, seed=1, options=QUICK, source_name=str(MINI))
    assert not np.array_equal(other.train_cells, sur.train_cells)
    cells = sur.cells_for(DS)
    assert not np.array_equal(
        other.curves(cells, dataset=DS, seed=0), sur.curves(cells, dataset=DS, seed=0)
    )


def test_the_power_law_alternative_fits_and_stays_bounded(mini):
    alt = fit_curve_surrogate(mini, DS, method="param", train_fraction=0.5, options=QUICK)
    assert alt.header["curves"]["method"] == "param" and alt.header["curves"]["components"] == 3
    c = alt.curves(alt.cells_for(DS), dataset=DS, seed=0)
    assert c.shape[1] == 20 and np.all((c >= 0) & (c <= 100))


def test_representations_read_back_what_they_fit(mini):
    y = mini.curves(mini.cells_for(DS), dataset=DS, seed="mean")
    err = {}
    for method, k in (("svd", 3), ("svd", 8), ("param", None)):
        latent, shared = fit_representation(method, y, k)
        back = reconstruct(method, latent, shared)
        assert back.shape == y.shape and np.all((back > 0) & (back < 100))
        err[(method, k)] = float(np.abs(back - y).mean())
    assert err[("svd", 8)] < err[("svd", 3)] < err[("param", None)]  # more freedom, closer fit


# ---- noise ---------------------------------------------------------------------------------------------------
def test_virtual_runs_are_as_rough_as_real_held_out_runs(sur, mini):
    res = validate_curves(sur, orders=20, truth=mini)
    ratio = np.array(res["noise"]["roughness_surrogate"]) / np.array(res["noise"]["roughness_real"])
    # second differences of one virtual vs one real run of the same 40 cells: the same size overall,
    # within 0.6-1.6x at most epochs; single epochs stray further (40 cells, heavy-tailed residuals)
    assert 0.75 < res["noise"]["roughness_ratio_median"] < 1.3
    assert np.mean((ratio > 0.6) & (ratio < 1.6)) >= 0.75 and np.all((ratio > 0.3) & (ratio < 3))


def test_seed_spread_is_learned_where_cells_have_several_seeds(mini):
    """Several seeds per cell (the long set's plan): the pool must carry the seed-to-seed spread."""
    y = mini.curves(mini.cells_for(DS)[:60], dataset=DS, seed="mean")
    rng = np.random.default_rng(0)
    sigma = np.linspace(3.0, 0.4, 20)  # wide early, narrow late, as training runs are
    runs = y[:, None, :] + rng.normal(size=(60, 3, 20)) * sigma
    runs[50:, 1:] = np.nan  # 10 cells with one seed only: not donors
    latent, shared = fit_representation("svd", np.nanmean(runs, axis=1), 2)
    smooth = reconstruct("svd", latent, shared)
    noise, seeds, source = fit_noise(runs, smooth, [0, 1, 2])
    assert source == "seeds" and seeds == [0, 1, 2] and len(noise.pool) == 50
    spread = np.std(noise.pool - noise.pool.mean(axis=1, keepdims=True), axis=(0, 1)) * np.sqrt(
        3 / 2
    )
    assert np.allclose(spread, sigma, rtol=0.3)
    few = runs.copy()
    few[4:, 1:] = np.nan  # 4 complete cells: too few donors, so one seed's jitter only
    _, seeds, source = fit_noise(few, smooth, [0, 1, 2])
    assert source == "jitter" and seeds == [0]


def test_curve_noise_refuses_inconsistent_tables():
    with pytest.raises(NasscoutError, match="inconsistent"):
        CurveNoise(np.zeros(1), np.zeros((3, 1, 5)), np.array([0, 5, 3]))
    with pytest.raises(NasscoutError, match="do not match"):
        CurveNoise.fit(np.zeros((3, 1, 5)), np.zeros((3, 4)))


# ---- the file ---------------------------------------------------------------------------------------------------
def test_round_trip_and_fast_load(sur, mini_file, tmp_path):
    t0 = time.perf_counter()
    again = SurrogateBenchmark.open(mini_file)
    assert time.perf_counter() - t0 < 1.0
    cells = sur.cells_for(DS)
    assert np.array_equal(
        again.curves(cells, dataset=DS, seed=0), sur.curves(cells, dataset=DS, seed=0)
    )
    copy = tmp_path / "copy.nss"
    again.save(copy)  # the models are carried over from the opened file
    assert read_header(copy)[0]["curves"] == read_header(mini_file)[0]["curves"]
    models = load_component_models(SurrogateBenchmark.open(copy))
    assert len(models) == 5
    pred = models[0].predict(cells[:10])
    assert np.allclose(pred, sur._compact["curve/latent"][:10, 0])
    assert sur.info()["surrogate"]["curves"]["method"] == "svd"


def _rewrite_header(src: Path, dst: Path, change) -> None:
    data = src.read_bytes()
    end = data.find(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : end])
    change(header)
    dst.write_bytes(MAGIC + json.dumps(header).encode() + data[end:])


def test_bad_files_are_refused_in_one_line(mini_file, tmp_path):
    cut = tmp_path / "cut.nss"
    cut.write_bytes(mini_file.read_bytes()[:-1000])
    with pytest.raises(DataError, match="truncated|size"):
        SurrogateBenchmark.open(cut)
    newer = tmp_path / "newer.nss"
    _rewrite_header(mini_file, newer, lambda h: h["curves"].update(version=99))
    with pytest.raises(DataError, match="curve-surrogate version 99.*reads version 1"):
        SurrogateBenchmark.open(newer)
    odd = tmp_path / "odd.nss"
    _rewrite_header(mini_file, odd, lambda h: h["curves"].update(method="spline"))
    with pytest.raises(DataError, match="damaged.*unknown curve model 'spline'"):
        SurrogateBenchmark.open(odd)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"curves": [1, 2]}))
    with pytest.raises(DataError, match="not a nasscout surrogate file"):
        SurrogateBenchmark.open(pkl)
    with pytest.raises(DataError, match="benchmark table \\(HDF5\\)"):
        SurrogateBenchmark.open(MINI)


# ---- searches on it ---------------------------------------------------------------------------------------------
def test_hyperband_and_early_stopping_run_on_it(sur):
    hb = Runner(sur, dataset=DS, seed=0, budget_queries=40).run("hyperband")
    assert set(hb.column("fidelity").tolist()) > {20}  # it screens at the lower rungs
    sh = Runner(sur, dataset=DS, seed=0, budget_queries=20).run(
        "sh", options={"promote": "extrapolated", "extrapolator": "last"}
    )
    assert len(sh) == 20
    from strategies.pruning import make_early_stop

    stop = make_early_stop("median", min_epochs=2)
    traj = Runner(sur, dataset=DS, seed=0, budget_queries=60, early_stop=stop).run("rs")
    rows = [r for r in traj.rows if r.stopped_at]
    assert 0 < len(rows) < 60
    for r in rows[:5]:  # a stopped trial's final is its own virtual run's last epoch
        assert r.final_acc == pytest.approx(sur.query([r.index], dataset=DS, seed=0).valid_acc[0])


def test_any_number_of_cells_fits_the_long_set():
    long = TabularBenchmark.open(LONG)
    n = len(long.cells_for(DS))
    sur = fit_curve_surrogate(long, DS, train_fraction=0.5, options=QUICK, components=3)
    assert sur.epochs == 50 and sur.fidelities == (2, 6, 17, 50)
    assert len(sur.train_cells) == round(0.5 * n)
    c = sur.curves(sur.cells_for(DS)[:100], dataset=DS, fidelity=17, seed=0)
    assert c.shape == (100, 17) and np.all((c >= 0) & (c <= 100))


# ---- validation and the CLI ------------------------------------------------------------------------------------
def test_validate_json_on_held_out_runs(mini_file, capsys):
    code, out, _ = nasscout(capsys, "surrogate", "validate", mini_file, "--orders", 20, "--json")
    assert code == 0
    res = json.loads(out)
    assert res["n_heldout"] == 40 and len(res["curve_mae_per_epoch"]) == 20
    # quality floors, measured 0.57 / 0.95 with the defaults (this quick model: a little worse)
    assert res["final_kendalltau"] > 0.35 and res["final_mae"] < 1.6
    assert (
        res["curve_mae_per_epoch"][-1] < res["curve_mae_per_epoch"][0]
    )  # early epochs are noisier
    assert set(res["early_stop"]["median k>=2"]) == {"real", "surrogate", "surrogate_mean"}
    code, out, _ = nasscout(capsys, "surrogate", "validate", mini_file, "--orders", 5)
    assert code == 0 and "early stopping over 5 orders" in out and "Kendall tau" in out


def test_fit_cli_writes_a_curve_surrogate(tmp_path, capsys):
    out_file = tmp_path / "c.nss"
    args = ["surrogate", "fit", "--benchmark", MINI, "--dataset", DS, "--curves", "svd"]
    args += ["--rungs", "4,20", "--components", "3", "--option", "n_members=1"]
    args += ["--option", "n_estimators=30", "--out", out_file]
    code, out, err = nasscout(capsys, *args)
    assert code == 0, err
    assert "svd with 3 components over 20 epochs" in out and "fidelities 4, 20" in out
    assert SurrogateBenchmark.open(out_file).fidelities == (4, 20)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--curves", "spline"], "unknown curve model 'spline'; accepted: svd, param"),
        (["--curves", "svd", "--rungs", "7,2,20"], "rungs '7,2,20' are invalid; accepted:"),
        (["--curves", "svd", "--rungs", "2,10"], "ending at 20"),
        (["--curves", "svd", "--components", "9"], "components 9 is invalid; accepted:"),
        (["--rungs", "2,20"], "--rungs applies to a curve surrogate only"),
        (["--curves", "svd", "--train-fraction", "1.5"], "train fraction '1.5' is invalid"),
    ],
)
def test_fit_cli_bad_input_is_one_line(extra, message, tmp_path, capsys):
    args = ["surrogate", "fit", "--benchmark", MINI, "--dataset", DS, *extra]
    code, out, err = nasscout(capsys, *args, "--out", tmp_path / "x.nss")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.nss").exists()


def test_fit_cli_refuses_a_table_without_curves(nb201, tmp_path, capsys):
    args = ["surrogate", "fit", "--benchmark", "nb201", "--curves", "svd", "--out", tmp_path / "x"]
    code, _, err = nasscout(capsys, *args)
    assert code == 2 and "records no per-epoch valid_acc curves for cifar10" in err
    assert len(err.strip().splitlines()) == 1


def test_validate_cli_bad_input_is_one_line(mini, mini_file, tmp_path, capsys):
    code, _, err = nasscout(capsys, "surrogate", "validate", mini_file, "--strategies", "rs")
    assert code == 2 and "does not apply to a curve surrogate" in err
    whole = tmp_path / "whole.nss"
    fit_curve_surrogate(mini, DS, train_fraction=1.0, options={"n_members": 1, "n_estimators": 10},
                        components=2, source_name=str(MINI)).save(whole)  # fmt: skip
    code, _, err = nasscout(capsys, "surrogate", "validate", whole)
    assert code == 2 and "nothing is held out" in err and len(err.strip().splitlines()) == 1
    code, _, err = nasscout(capsys, "surrogate", "validate", mini_file, "--orders", 0)
    assert code == 2 and "orders 0 is invalid" in err


def test_rung_checks():
    assert default_rungs(50) == (2, 6, 17, 50) and default_rungs(3) == (3,)
    assert check_rungs("2, 6,50", 50) == (2, 6, 50)
    with pytest.raises(NasscoutError, match="rungs 'a,b' are invalid"):
        check_rungs("a,b", 50)
