"""The NATS-Bench / NAS-Bench-201 importers, on the real three-cell NATS tss sample in ../shared/data.

Every number is cross-checked against what the nats_bench API itself returns for the same cell, schedule,
dataset and seed."""

from __future__ import annotations

import bz2
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from surrogate.errors import DataError, NasscoutError
from surrogate.import_nats import import_nats_tss, import_nb201_pth
from surrogate.store import read_store
from surrogate.tabular import TabularBenchmark
from tests.conftest import SHARED_DATA

FIXTURE = SHARED_DATA / "nats_tss_sample" / "NATS-tss-v1_0-3ffb9-simple"
CELLS = [0, 11, 284]
NATS_SET = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}

pytestmark = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"NATS sample not found at {FIXTURE}")


@pytest.fixture(scope="module")
def api():
    import nats_bench

    return nats_bench.create(str(FIXTURE), "tss", fast_mode=True, verbose=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return import_nats_tss(FIXTURE, tmp_path_factory.mktemp("nats") / "nats-tss.h5")


@pytest.fixture(scope="module")
def bench(store) -> TabularBenchmark:
    return TabularBenchmark.open(store)


def _info(api, cell, nats_set, hp, seed, iepoch=None):
    return api.get_more_info(cell, nats_set, iepoch=iepoch, hp=hp, is_random=seed)


def test_holds_exactly_the_cells_with_files(bench):
    assert bench.cells.tolist() == CELLS
    assert bench.datasets == ("cifar10", "cifar100", "ImageNet16-120")
    assert bench.fidelities == (12, 200)
    assert bench.name == "nats-tss"
    assert bench.sources["archive"] == str(FIXTURE.resolve())
    assert bench.sources["reader"].startswith("nasscout restricted unpickler")


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
@pytest.mark.parametrize("hp", ["12", "200"])
def test_final_values_equal_the_api(bench, api, dataset, hp):
    nats_set = NATS_SET[dataset]
    test_set = "cifar10" if dataset == "cifar10" else nats_set  # cifar10 test: the train+valid runs
    seeds = bench.seeds(dataset, int(hp))
    api_seeds = sorted(
        set(api.query_meta_info_by_index(CELLS[0], hp).get_dataset_seeds(nats_set))
        | set(api.query_meta_info_by_index(CELLS[0], hp).get_dataset_seeds(test_set))
    )
    assert seeds == api_seeds and len(seeds) >= 1
    checked = 0
    for seed in seeds:
        rec = bench.query(CELLS, dataset=dataset, fidelity=int(hp), seed=seed)
        for k, cell in enumerate(CELLS):
            meta = api.query_meta_info_by_index(cell, hp)
            if seed in meta.get_dataset_seeds(nats_set):
                want = _info(api, cell, nats_set, hp, seed)
                assert rec.valid_acc[k] == pytest.approx(want["valid-accuracy"], rel=1e-6)
                assert rec.train_time_s[k] == pytest.approx(  # seed mean of the schedule's time
                    np.mean(
                        [
                            _info(api, cell, nats_set, hp, s)["train-all-time"]
                            for s in meta.get_dataset_seeds(nats_set)
                        ]
                    ),
                    rel=1e-5,
                )
                checked += 1
            else:
                assert np.isnan(rec.valid_acc[k])
            if seed in meta.get_dataset_seeds(test_set):
                want = _info(api, cell, test_set, hp, seed)
                assert rec.test_acc[k] == pytest.approx(want["test-accuracy"], rel=1e-6)
            else:
                assert np.isnan(rec.test_acc[k])
    assert checked >= len(CELLS)


def test_per_seed_train_time_is_the_summed_epoch_times(store, api):
    data = read_store(store)
    seeds = [int(s) for s in data.group_attrs["cifar100/fid_200"]["seeds"]]
    got = data.arrays["cifar100/fid_200/train_time_s"]
    for k, cell in enumerate(CELLS):
        for j, seed in enumerate(seeds):
            want = _info(api, cell, "cifar100", "200", seed)["train-all-time"]
            assert got[k, j] == pytest.approx(want, rel=1e-5)


def test_curves_have_the_schedule_length_and_end_at_the_final_value(store):
    data = read_store(store)
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):
        for epochs in (12, 200):
            prefix = f"{ds}/fid_{epochs}"
            n_seeds = len(data.group_attrs[prefix]["seeds"])
            for metric in (
                "valid_acc",
                "test_acc",
                "train_acc",
                "train_loss",
                "valid_loss",
                "epoch_time_s",
            ):
                assert data.arrays[f"{prefix}/curves/{metric}"].shape == (3, n_seeds, epochs)
            for metric in ("valid_acc", "test_acc"):
                last = data.arrays[f"{prefix}/curves/{metric}"][:, :, -1]
                final = data.arrays[f"{prefix}/{metric}"]
                np.testing.assert_array_equal(np.isnan(last), np.isnan(final))
                np.testing.assert_array_equal(last[~np.isnan(last)], final[~np.isnan(final)])
            assert np.all(np.isfinite(data.arrays[f"{prefix}/curves/train_acc"][:, 0]))
            times = data.arrays[f"{prefix}/curves/epoch_time_s"]
            np.testing.assert_allclose(
                np.nansum(times, axis=2)[~np.isnan(data.arrays[f"{prefix}/valid_acc"])],
                data.arrays[f"{prefix}/train_time_s"][
                    ~np.isnan(data.arrays[f"{prefix}/valid_acc"])
                ],
                rtol=1e-5,
            )


def test_mid_training_epochs_equal_the_api(bench, api):
    cell, seed = 11, 888
    curve = bench.curves([cell], dataset="cifar10", fidelity=200, metric="valid_acc", seed=seed)[0]
    for e in (0, 57, 199):
        want = _info(api, cell, "cifar10-valid", "200", seed, iepoch=e)["valid-accuracy"]
        assert curve[e] == pytest.approx(want, rel=1e-6)
    loss = bench.curves([cell], dataset="cifar100", fidelity=12, metric="train_loss", seed=111)[0]
    assert loss[4] == pytest.approx(
        _info(api, cell, "cifar100", "12", 111, iepoch=4)["train-loss"], rel=1e-6
    )
    # NATS scored cifar100's x-valid of the 200-epoch runs after the last epoch only: NaN before it,
    # while the per-epoch valtest (ori-test) curve is there and equals the API's valtest-accuracy
    info = _info(api, cell, "cifar100", "200", 777, iepoch=50)
    assert "valid-accuracy" not in info
    valid = bench.curves([cell], dataset="cifar100", fidelity=200, metric="valid_acc", seed=777)[0]
    assert np.isnan(valid[50]) and not np.isnan(valid[199])
    valtest = bench.curves(
        [cell], dataset="cifar100", fidelity=200, metric="valtest_acc", seed=777
    )[0]
    assert valtest[50] == pytest.approx(info["valtest-accuracy"], rel=1e-6)
    # cifar10's per-epoch test curve comes from the train+valid runs
    test = bench.curves([cell], dataset="cifar10", fidelity=200, metric="test_acc", seed=999)[0]
    assert test[120] == pytest.approx(
        _info(api, cell, "cifar10", "200", 999, iepoch=120)["test-accuracy"]
    )


def test_the_two_schedules_stay_separate(bench, api):
    short = bench.curves(CELLS, dataset="cifar10", fidelity=12, metric="valid_acc", seed=777)
    long = bench.curves(CELLS, dataset="cifar10", fidelity=200, metric="valid_acc", seed=777)
    assert short.shape == (3, 12) and long.shape == (3, 200)
    assert not np.allclose(
        short, long[:, :12]
    )  # 12 epochs of a 12-epoch schedule, not 200's first 12
    for k, cell in enumerate(CELLS):
        assert short[k, -1] == pytest.approx(
            _info(api, cell, "cifar10-valid", "12", 777)["valid-accuracy"], rel=1e-6
        )
    assert bench.seeds("cifar100", 12) == [111] and bench.seeds("cifar100", 200) == [777, 888, 999]


def test_static_costs_equal_the_api(bench, api):
    for ds, nats_set in NATS_SET.items():
        rec = bench.query(CELLS, dataset=ds, fidelity=200)
        for k, cell in enumerate(CELLS):
            cost = api.get_cost_info(cell, nats_set, hp="200")
            assert rec.params_m[k] == pytest.approx(cost["params"], rel=1e-6)
            assert rec.flops_m[k] == pytest.approx(cost["flops"], rel=1e-6)
            assert rec.latency_s[k] == pytest.approx(cost["latency"], rel=1e-6)


def test_trainonly_test_accuracy_of_cifar10(bench, api):
    got = bench.extra(CELLS, dataset="cifar10", field="trainonly_test_acc_200")
    for k, cell in enumerate(CELLS):
        want = api.query_meta_info_by_index(cell, "200").get_metrics("cifar10-valid", "ori-test")
        assert got[k] == pytest.approx(want["accuracy"], rel=1e-6)


def test_subsets_of_schedules_datasets_and_curves(tmp_path):
    out = import_nats_tss(
        FIXTURE,
        tmp_path / "s.h5",
        hp=[200],
        datasets=["cifar-100"],
        curves=["valid_acc", "valtest_acc"],
    )
    keys = set(read_store(out).arrays)
    assert {k.split("/")[0] for k in keys} == {"cells", "cifar100"}
    assert not any("fid_12" in k for k in keys)
    curves = {k.rsplit("/", 1)[1] for k in keys if "/curves/" in k}
    assert curves == {"valid_acc", "valtest_acc"}


def test_parallel_workers_give_the_same_file(tmp_path, store):
    out = import_nats_tss(FIXTURE, tmp_path / "w2.h5", workers=2)
    a, b = read_store(store), read_store(out)
    assert a.attrs["checksum"] == b.attrs["checksum"]


# ---- bad input -------------------------------------------------------------------------------------
def _meta_only(tmp_path: Path, name: str = "NATS-tss-v1_0-3ffb9-simple") -> Path:
    d = tmp_path / name
    d.mkdir()
    shutil.copy(FIXTURE / "meta.pickle.pbz2", d / "meta.pickle.pbz2")
    return d


def test_bad_paths_name_the_path_and_what_is_expected(tmp_path):
    with pytest.raises(
        NasscoutError, match=r"does not exist; expected .*NATS-tss-v1_0-3ffb9-simple"
    ):
        import_nats_tss(tmp_path / "missing", tmp_path / "o.h5")
    with pytest.raises(NasscoutError, match=r"SOURCE.md is a file"):
        import_nats_tss(FIXTURE.parent / "SOURCE.md", tmp_path / "o.h5")
    with pytest.raises(NasscoutError, match=r"no meta.pickle.pbz2"):
        import_nats_tss(FIXTURE.parent, tmp_path / "o.h5")
    sss = tmp_path / "NATS-sss-v1_0-50262-simple"
    sss.mkdir()
    with pytest.raises(NasscoutError, match=r"size search space \(sss\).*topology space \(tss\)"):
        import_nats_tss(sss, tmp_path / "o.h5")
    with pytest.raises(DataError, match=r"holds no cell files"):
        import_nats_tss(_meta_only(tmp_path), tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_a_size_space_meta_is_refused_even_under_another_name(tmp_path):
    d = tmp_path / "renamed"
    d.mkdir()
    meta = {
        "meta_archs": [f"{a}:16:24:32:40" for a in (8, 16, 24)],
        "total_archs": 3,
        "arch2infos": None,
        "evaluated_indexes": set(),
    }
    with bz2.BZ2File(d / "meta.pickle.pbz2", "wb") as fh:
        pickle.dump(meta, fh)
    with pytest.raises(NasscoutError, match=r"'8:16:24:32:40'.*\(sss\)"):
        import_nats_tss(d, tmp_path / "o.h5")


def test_a_damaged_cell_file_is_named(tmp_path):
    d = _meta_only(tmp_path)
    shutil.copy(FIXTURE / "000011.pickle.pbz2", d / "000011.pickle.pbz2")
    (d / "000284.pickle.pbz2").write_bytes(b"not bz2 at all")
    with pytest.raises(DataError, match=r"000284.pickle.pbz2"):
        import_nats_tss(d, tmp_path / "o.h5")


def test_a_cell_file_under_the_wrong_index_is_refused(tmp_path):
    d = _meta_only(tmp_path)
    shutil.copy(FIXTURE / "000011.pickle.pbz2", d / "000012.pickle.pbz2")
    with pytest.raises(DataError, match=r"but cell 12 is"):
        import_nats_tss(d, tmp_path / "o.h5")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hp": ["13"]}, r"hp='13'; accepted: 12, 200"),
        ({"datasets": ["mnist"]}, r"unknown dataset 'mnist'; accepted"),
        ({"curves": ["val_acc"]}, r"unknown curve metric 'val_acc'; accepted"),
        ({"workers": 0}, r"workers must be a positive integer"),
    ],
)
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(NasscoutError, match=message):
        import_nats_tss(FIXTURE, tmp_path / "o.h5", **kwargs)


# ---- NAS-Bench-201 .pth ------------------------------------------------------------------------------
# There is no official NB201 .pth on this machine: its error paths are tested, and its parser on a file in
# the NB201 layout ('less'/'full' records) rebuilt from the NATS sample's own records, which is not an
# official file (NB201 v1_0/v1_1 may differ in details this cannot show).
def test_nb201_pth_bad_files(tmp_path):
    import torch

    with pytest.raises(NasscoutError, match=r"does not exist; expected NAS-Bench-201-v1_0"):
        import_nb201_pth(tmp_path / "NAS-Bench-201-v1_0-e61699.pth", tmp_path / "o.h5")
    with pytest.raises(NasscoutError, match=r"is a directory"):
        import_nb201_pth(tmp_path, tmp_path / "o.h5")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"#!not a torch file")
    with pytest.raises(DataError, match=r"junk.pth is not a readable PyTorch file"):
        import_nb201_pth(junk, tmp_path / "o.h5")
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(DataError, match=r"is not a NAS-Bench-201 file"):
        import_nb201_pth(other, tmp_path / "o.h5")


def test_nb201_layout_round_trip_matches_the_nats_import(tmp_path, api, store):
    import torch
    from nats_bench.api_utils import pickle_load

    infos = {}
    for cell in CELLS:
        rec = pickle_load(str(FIXTURE / f"{cell:06d}.pickle.pbz2"))
        infos[cell] = {"less": rec["12"], "full": rec["200"]}
    pth = tmp_path / "nb201-layout.pth"
    torch.save(
        {"meta_archs": list(api.meta_archs), "arch2infos": infos, "evaluated_indexes": CELLS}, pth
    )
    out = import_nb201_pth(pth, tmp_path / "nb201.h5")
    a, b = read_store(store), read_store(out)
    assert set(a.arrays) == set(b.arrays)
    for key, arr in a.arrays.items():
        np.testing.assert_array_equal(arr, b.arrays[key], err_msg=key)


# ---- CLI ---------------------------------------------------------------------------------------------
def test_cli_import_then_info_and_query(tmp_path, api):
    from click.testing import CliRunner

    from strategies.cli.main import cli

    out = tmp_path / "cli.h5"
    runner = CliRunner()
    res = runner.invoke(cli, ["data", "import", "nats-tss", str(FIXTURE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    line = res.stdout.strip()
    assert "\n" not in line
    assert line.startswith("imported 3 cells x 3 datasets (cifar10, cifar100, ImageNet16-120)")
    assert "fidelities 12, 200" in line and "12 and 200 epochs" in line and str(out) in line

    res = runner.invoke(cli, ["bench", "info", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["cells"] == 3 and info["fidelities"] == [12, 200]
    assert info["epochs"]["cifar10@12"] == 12 and info["epochs"]["cifar100@200"] == 200
    assert info["seeds"]["cifar10@200"] == [777, 888, 999]

    res = runner.invoke(
        cli, ["bench", "query", str(out), "--dataset", "cifar10", "--arch", "11", "--json"]
    )
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    want = api.get_more_info(11, "cifar10-valid", hp="200", is_random=False)["valid-accuracy"]
    assert row["index"] == 11 and row["fidelity"] == 200
    assert row["valid_acc"] == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "import", "nats-tss", "/no/such/NATS-tss-v1_0-3ffb9-simple"],
        ["data", "import", "nats-tss", str(FIXTURE.parent / "SOURCE.md")],
        ["data", "import", "nb201-pth", "/no/such/NAS-Bench-201-v1_1-096897.pth"],
    ],
)
def test_cli_bad_paths_exit_2_with_one_line(argv, capsys, tmp_path):
    from strategies.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path / "o.h5")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nasscout: error: ") and "\n" not in err
    assert argv[-1] in err and "expected" in err
