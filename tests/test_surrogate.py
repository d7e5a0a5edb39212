"""Fitted surrogate benchmarks on the real tables: files, refusals, noise, quality floors, validation, CLI."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from cli_calls import nasscout

from predictors.surrogate_fit import answerable_cells, fit_surrogate, load_models
from strategies.surrogate_validate import noise_check, open_truth, validate
from surrogate.errors import DataError, NasscoutError
from surrogate.fitted import MAGIC, SurrogateBenchmark, read_header

REPO = Path(__file__).resolve().parents[1]
QUICK = {"n_members": 1, "n_estimators": 100}
JSON_FIELDS = (
    "heldout_r2",
    "heldout_kendalltau",
    "heldout_mae",
    "strategy_regret_spearman",
    "max_anytime_gap",
    "n_strategies",
    "n_seeds",
)


@pytest.fixture(scope="module")
def nb_file(nb201, tmp_path_factory) -> Path:
    """XGBoost (quick) fitted on 10% of NB201 CIFAR-10, saved."""
    path = tmp_path_factory.mktemp("sur") / "nb201-c10.nss"
    fit_surrogate(
        nb201, "cifar10", train_fraction=0.1, seed=3, options=QUICK, source_name="nb201"
    ).save(path)
    return path


@pytest.fixture(scope="module")
def nb_sur(nb_file) -> SurrogateBenchmark:
    return SurrogateBenchmark.open(nb_file)


# ---- the file ----------------------------------------------------------------------------------------------


def test_round_trip_answers_identically_and_keeps_provenance(nb201, nb_file, nb_sur):
    again = SurrogateBenchmark.open(nb_file)
    cells = np.arange(0, 15625, 7)
    for f in nb_sur.fidelities:
        for seed in ("mean", *nb_sur.seeds("cifar10", f)):
            a = nb_sur.query(cells, dataset="cifar10", fidelity=f, seed=seed).valid_acc
            assert np.array_equal(
                a, again.query(cells, dataset="cifar10", fidelity=f, seed=seed).valid_acc
            )
    h = read_header(nb_file)[0]
    assert h["source"]["benchmark"] == "nb201" and h["source"]["cells"] == 15625
    assert h["seed"] == 3 and h["model"] == "xgb" and h["n_train_cells"] == 1562
    assert {"python", "numpy", "xgboost"} <= set(h["versions"])
    assert len(nb_sur.train_cells) == 1562 and nb_sur.fidelities == (12, 200)
    assert nb_sur.seeds("cifar10", 200) == nb201.seeds("cifar10", 200)


def test_a_reopened_surrogate_saves_the_same_surrogate(nb_file, nb_sur, tmp_path):
    copy = tmp_path / "copy.nss"
    SurrogateBenchmark.open(nb_file).save(copy)  # its models were never read: save reads them now
    again = SurrogateBenchmark.open(copy)
    for f in nb_sur.fidelities:
        assert again.model_bytes(f) == nb_sur.model_bytes(f) and len(again.model_bytes(f)) > 1000
        assert np.array_equal(again.query(again.cells, dataset="cifar10", fidelity=f, seed=0).valid_acc,
                              nb_sur.query(nb_sur.cells, dataset="cifar10", fidelity=f, seed=0).valid_acc)  # fmt: skip


def test_the_stored_models_reproduce_the_stored_answers(nb_sur):
    """The model bytes in the file are the model whose answers the tables hold."""
    models = load_models(nb_sur)
    cells = nb_sur.cells[::97]
    for f, model in models.items():
        got = model.predict(cells)
        assert np.allclose(
            got, nb_sur.query(cells, dataset="cifar10", fidelity=f).valid_acc, atol=1e-5
        )


def test_same_seed_same_surrogate_other_seed_other_cells(nb201, nb_sur):
    twin = fit_surrogate(nb201, "cifar10", train_fraction=0.1, seed=3, options=QUICK)
    assert np.array_equal(twin.train_cells, nb_sur.train_cells)
    cells = np.arange(100)
    for seed in ("mean", 1):
        a = twin.query(cells, dataset="cifar10", seed=seed).valid_acc
        assert np.array_equal(a, nb_sur.query(cells, dataset="cifar10", seed=seed).valid_acc)
    other = fit_surrogate(nb201, "cifar10", train_fraction=0.1, seed=4, options=QUICK)
    assert not np.array_equal(other.train_cells, nb_sur.train_cells)


def _rewrite(src: Path, dst: Path, *, header=None, payload=None) -> Path:
    h, p = read_header(src)
    h = dict(h) if header is None else header
    body = p if payload is None else payload
    dst.write_bytes(MAGIC + json.dumps(h).encode() + b"\n" + body)
    return dst


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate", "truncated"),
        ("flip", "checksum mismatch"),
        ("schema", "schema version 99"),
        ("predictor", "is a nasscout predictor file, not a nasscout surrogate file"),
        ("hdf5", "is a benchmark table (HDF5)"),
        ("space", "search space 'darts'"),
        ("no-metric", "is damaged (KeyError: 'metric')"),
    ],
)
def test_foreign_or_damaged_files_are_refused_in_one_line(nb_file, tmp_path, damage, message):
    bad = tmp_path / "bad.nss"
    data = nb_file.read_bytes()
    h, _ = read_header(nb_file)
    if damage == "truncate":
        bad.write_bytes(data[: len(data) - 1000])
    elif damage == "flip":
        bad.write_bytes(data[:-50] + bytes([data[-50] ^ 1]) + data[-49:])
    elif damage == "schema":
        _rewrite(nb_file, bad, header={**h, "schema_version": 99})
    elif damage == "predictor":
        bad.write_bytes(b"NASSCOUT-PREDICTOR\n{}\n")
    elif damage == "hdf5":
        bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    elif damage == "no-metric":
        _rewrite(nb_file, bad, header={k: v for k, v in h.items() if k != "metric"})
    else:
        _rewrite(nb_file, bad, header={**h, "space": "darts"})
    with pytest.raises(DataError, match=re.escape(message)) as exc:
        SurrogateBenchmark.open(bad)
    assert "\n" not in str(exc.value)


class _Payload:
    """Unpickling this runs a shell command: the file must be refused before anything is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["object-array", "raw-pickle"])
def test_loading_cannot_run_code_from_the_file(nb_file, tmp_path, how):
    import hashlib

    marker = tmp_path / "ran"
    if how == "raw-pickle":
        payload = pickle.dumps(_Payload(marker))
    else:
        buf = io.BytesIO()
        arr = np.empty(1, dtype=object)
        arr[0] = _Payload(marker)
        np.savez(buf, cells=arr)
        payload = buf.getvalue()
    h, _ = read_header(nb_file)
    h = {**h, "payload_bytes": len(payload), "payload_sha256": hashlib.sha256(payload).hexdigest()}
    bad = _rewrite(nb_file, tmp_path / "evil.nss", header=h, payload=payload)
    with pytest.raises(DataError, match="refused"):
        SurrogateBenchmark.open(bad)
    assert not marker.exists()


def test_a_surrogate_of_other_data_is_refused_against_the_truth(nb_file, tmp_path):
    h, _ = read_header(nb_file)
    other = {**h, "source": {**h["source"], "fingerprint": "0" * 64}}
    with pytest.raises(DataError, match="fitted on other data than nb201 cifar10"):
        open_truth(SurrogateBenchmark.open(_rewrite(nb_file, tmp_path / "o.nss", header=other)))
    foreign = {**h, "source": {**h["source"], "benchmark": "transnas-micro"}}
    with pytest.raises(
        DataError, match="nb201 cells but transnas-micro holds transnas-micro cells"
    ):
        open_truth(SurrogateBenchmark.open(_rewrite(nb_file, tmp_path / "f.nss", header=foreign)))


# ---- what it answers -----------------------------------------------------------------------------------------


def test_quality_floor_on_held_out_nb201_cells(nb201, nb_sur):
    from scipy.stats import kendalltau

    held = np.setdiff1d(np.arange(15625), nb_sur.train_cells)
    y = nb201.query(held, dataset="cifar10").valid_acc
    p = nb_sur.query(held, dataset="cifar10").valid_acc
    assert kendalltau(y, p)[0] >= 0.75  # the quick model (1 booster, 100 trees); measured 0.81
    cost = nb201.cost(held, dataset="cifar10")
    assert np.median(np.abs(nb_sur.cost(held, dataset="cifar10") - cost) / cost) < 0.1


def test_noise_reproduces_the_real_seed_spread(nb201, nb_sur):
    """Per-cell seed std, real vs virtual, on 1,000 held-out NB201 cells: KS does not reject at 1%."""
    res = noise_check(nb201, nb_sur)
    assert res["n_cells"] == 1000
    assert res["ks_pvalue"] > 0.01, res
    assert res["surrogate_std_median"] == pytest.approx(res["real_std_median"], rel=0.2)
    draws = nb_sur.query(
        np.arange(2000), dataset="cifar10", seed=np.random.default_rng(0)
    ).valid_acc
    mean = nb_sur.query(np.arange(2000), dataset="cifar10").valid_acc
    assert np.mean(draws != mean) > 0.9  # a seed answer is noisy; "mean" is the mean
    assert np.array_equal(nb_sur.query(np.arange(9), dataset="cifar10", fidelity=12, seed=0).valid_acc,
                          nb_sur.query(np.arange(9), dataset="cifar10", fidelity=12).valid_acc)  # 1 seed: noise-free  # fmt: skip


@pytest.mark.parametrize(
    "source, dataset",
    [
        ("transnas-micro", "room_layout"),
        ("nasbench-graph", "proteins"),
        ("fmnist-mini", "fashion-mnist"),
    ],
)
def test_every_kind_of_table_can_be_fitted(shared_data, source, dataset):
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    if source == "fmnist-mini":
        truth = TabularBenchmark.open(REPO / "datasets" / "nb201-fmnist-mini.h5")
    else:
        truth = load_benchmark(source)
    sur = fit_surrogate(truth, dataset, train_fraction=0.5, seed=0, options=QUICK)
    assert sur.metric(dataset) == truth.metric(dataset)
    assert sur.fidelities_for(dataset) == truth.fidelities_for(dataset)
    cells = truth.cells_for(dataset)
    assert set(cells.tolist()) <= set(sur.cells_for(dataset).tolist())
    assert np.array_equal(sur.cells_for(dataset), answerable_cells(truth.space, cells))
    unseen = np.setdiff1d(sur.cells_for(dataset), sur.train_cells)[:50]
    rec = sur.query(unseen, dataset=dataset)
    assert np.all(np.isfinite(rec.valid_acc)) and np.all(sur.cost(unseen, dataset=dataset) > 0)
    if source == "fmnist-mini":
        # 200 trained cells stand for the 10,000 with their ops (the sample has no 'none' on edges 0 and 5)
        assert len(sur.cells_for(dataset)) == 10_000
        every = sur.query(sur.cells, dataset=dataset)  # static facts for cells the table lacks, too
        assert np.all(np.isfinite(every.params_m)) and np.all(np.isfinite(every.flops_m))
        known = truth.query(cells, dataset=dataset)
        assert np.array_equal(sur.query(cells, dataset=dataset).params_m, known.params_m)
    if source == "nasbench-graph":  # proteins lacks ops: the surrogate does not invent them
        assert len(sur.cells_for(dataset)) == len(cells) < truth.space.n_cells
        outside = np.setdiff1d(np.arange(truth.space.n_cells), cells)[0]
        with pytest.raises(NasscoutError, match="outside this surrogate"):
            sur.query([outside], dataset=dataset)


# ---- validation and CLI ------------------------------------------------------------------------------------


def test_validate_reports_every_field_and_writes_plots(nb_sur, tmp_path):
    res = validate(nb_sur, strategies=["rs", "rea", "ls"], n_seeds=2, budget=30, out_dir=tmp_path)
    for k in JSON_FIELDS:
        assert k in res, k
    assert res["n_strategies"] == 3 and res["n_seeds"] == 2
    assert res["heldout_kendalltau"] > 0.7 and 0.9 < res["heldout_r2"] <= 1
    assert -1 <= res["strategy_regret_spearman"] <= 1 and res["max_anytime_gap"] >= 0
    assert json.loads((tmp_path / "validation.json").read_text()) == res
    assert (tmp_path / "regret.png").stat().st_size > 0 and (
        tmp_path / "noise.png"
    ).stat().st_size > 0


def test_cli_fit_validate_json_and_run(nb201, tmp_path, capsys):
    out = tmp_path / "s.nss"
    code, stdout, err = nasscout(
        capsys, "surrogate", "fit", "--benchmark", "nb201", "--dataset", "cifar10", "--train-fraction",
        "0.05", "--seed", "1", "--option", "n_members=1", "--option", "n_estimators=50", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "fitted xgb on 781 of 15625 cells of nb201 cifar10" in stdout
    code, stdout, err = nasscout(
        capsys, "surrogate", "validate", out, "--strategies", "rs,rea", "--seeds", "2", "--budget",
        "20", "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(stdout)
    assert all(k in res for k in JSON_FIELDS) and res["n_strategies"] == 2
    run = tmp_path / "run"
    code, _, err = nasscout(
        capsys, "run", "--benchmark", f"surrogate:{out}", "--strategy", "rea", "--budget-queries", "20",
        "--jobs", "1", "-q", "--out", run,
    )  # fmt: skip
    assert code == 0, err
    assert len((run / "results.csv").read_text().splitlines()) == 21


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["fit", "--model", "transformer"],
            "unknown surrogate model 'transformer'; accepted: xgb, gp",
        ),
        (
            ["fit", "--train-fraction", "0"],
            "train fraction '0' is invalid; accepted: a number in (0, 1]",
        ),
        (["fit", "--train-fraction", "1.5"], "train fraction '1.5' is invalid"),
        (["fit", "--train-fraction", "lots"], "train fraction 'lots' is invalid"),
        (["fit", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
        (["fit", "--dataset", "mnist"], "unknown dataset 'mnist'; accepted: cifar10, cifar100"),
        (["validate", "{missing}"], "not found"),
        (["validate", "{truncated}"], "truncated"),
        (["validate", "{file}", "--strategies", "nope"], "unknown strategy 'nope'"),
        (
            ["run-other-dataset"],
            "unknown dataset 'cifar100'; accepted: cifar10 (this surrogate was fitted",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(nb201, nb_file, tmp_path, capsys, args, message):
    truncated = tmp_path / "t.nss"
    truncated.write_bytes(nb_file.read_bytes()[:5000])
    subs = {"{missing}": tmp_path / "none.nss", "{truncated}": truncated, "{file}": nb_file}
    args = [str(subs.get(a, a)) for a in args]
    if args == ["run-other-dataset"]:
        argv = ["run", "--benchmark", f"surrogate:{nb_file}", "--dataset", "cifar100", "--strategy", "rs",
                "--budget-queries", "5", "-q", "--out", tmp_path / "r"]  # fmt: skip
    elif args[0] == "fit":
        argv = ["surrogate", *args, "--out", tmp_path / "x.nss"]
    else:
        argv = ["surrogate", *args]
    code, _, err = nasscout(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x.nss").exists()
