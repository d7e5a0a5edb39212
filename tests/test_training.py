"""Real training of NB201 cells (tiny presets on real Fashion-MNIST): trainer, run store, benchmark, CLI."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from surrogate.errors import NasscoutError
from tests.conftest import SHARED_DATA

FMNIST = SHARED_DATA / "fashion_mnist"
pytestmark = pytest.mark.skipif(
    not (FMNIST / "train-images-idx3-ubyte.gz").exists()
    and not Path("/usr/share/datasets/fashion-mnist").exists(),
    reason="Fashion-MNIST not available offline",
)
TINY = {
    "n_train": 256,
    "n_valid": 128,
    "n_test": 128,
    "C": 4,
    "N": 1,
    "image_size": 8,
    "batch_size": 32,
}
CELL = (
    1000  # |skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|skip_connect~1|nor_conv_3x3~2|
)


def tiny(epochs: int = 3, **more):
    from surrogate.training.presets import get_preset

    return get_preset("cpu-mini", {**TINY, **more}, epochs=epochs)


def run(cell=CELL, seed=0, epochs=3, checkpoint=None, on_epoch=None, **more):
    from surrogate.training.trainer import RunSpec, train_run

    spec = RunSpec("fashion-mnist", tiny(epochs, **more), cell, seed, checkpoint=checkpoint)
    return train_run(spec, on_epoch=on_epoch)


def accuracy_curves(result):
    return {k: v for k, v in result["curves"].items() if not k.endswith("_time_s")}


# ---- presets and data ---------------------------------------------------------------------------------
def test_presets_hold_the_recipes_and_refuse_bad_values():
    from surrogate.training.presets import get_preset, parse_overrides

    nb = get_preset("nb201")
    assert (nb.C, nb.N, nb.epochs, nb.batch_size, nb.lr, nb.momentum, nb.nesterov, nb.weight_decay) == (
        16, 5, 200, 256, 0.1, 0.9, True, 5e-4,
    )  # fmt: skip
    assert get_preset("cpu-mini").epochs >= 20
    with pytest.raises(NasscoutError, match="unknown preset 'big'; accepted: nb201, cpu-mini"):
        get_preset("big")
    for bad in (0, -3):
        with pytest.raises(NasscoutError, match=f"epochs={bad} is invalid"):
            get_preset("cpu-mini", epochs=bad)
    with pytest.raises(NasscoutError, match="image_size=10 is invalid; accepted: a multiple of 4"):
        get_preset("cpu-mini", {"image_size": 10})
    with pytest.raises(NasscoutError, match="cannot read preset option 'colour=red'"):
        parse_overrides(["colour=red"])
    with pytest.raises(NasscoutError, match="'abc' is not a float"):
        parse_overrides(["lr=abc"])
    assert parse_overrides(["n_test=None", "lr=1e-2", "flip=false"]) == {
        "n_test": None, "lr": 0.01, "flip": False,
    }  # fmt: skip


def test_splits_are_fixed_by_the_split_seed_and_disjoint():
    from surrogate.training.data import canonical_dataset, load_splits

    s = load_splits("fmnist", tiny())
    assert s.train_x.shape == (256, 1, 8, 8) and s.valid_x.shape == (128, 1, 8, 8)
    assert s.test_x.shape == (128, 1, 8, 8) and s.n_classes == 10 and s.in_channels == 1
    assert float(s.train_x.min()) >= 0.0 and float(s.train_x.max()) <= 1.0
    # no validation image is also a training image
    flat_t = s.train_x.reshape(len(s.train_x), -1).numpy()
    flat_v = s.valid_x.reshape(len(s.valid_x), -1).numpy()
    assert not (np.abs(flat_v[:, None, :] - flat_t[None, :, :]).sum(-1) == 0).any()
    other = load_splits("fashion-mnist", tiny(split_seed=1))
    assert not np.array_equal(other.valid_y.numpy(), s.valid_y.numpy())
    with pytest.raises(NasscoutError, match="unknown dataset 'svhn'; accepted: fashion-mnist"):
        canonical_dataset("svhn")


@pytest.mark.slow  # importing torchvision takes 3-15 s
def test_fashion_mnist_reader_matches_torchvision():
    import torchvision

    from surrogate.training.data import _fashion_mnist, data_root, prepare_fashion_mnist

    root = prepare_fashion_mnist(data_root())
    x, y = _fashion_mnist(root, train=False)
    tv = torchvision.datasets.FashionMNIST(str(root), train=False, download=False)
    assert np.array_equal(x[..., 0], tv.data.numpy()) and np.array_equal(y, tv.targets.numpy())


def test_missing_offline_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    from surrogate.training import data

    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NASSCOUT_DATA_SOURCES", str(tmp_path / "nothing"))
    monkeypatch.setenv("NASSCOUT_OFFLINE", "1")
    monkeypatch.setattr(data, "DEBIAN_FMNIST", tmp_path / "no-debian")
    with pytest.raises(NasscoutError, match="apt-get install dataset-fashion-mnist"):
        data.prepare_fashion_mnist(tmp_path / "root")
    with pytest.raises(NasscoutError, match="CIFAR10 is not in .* NASSCOUT_OFFLINE=1"):
        data._torchvision("cifar10", tmp_path / "root", train=True)


def test_augmentation_is_crop_of_padded_image_and_flip():
    import torch
    import torch.nn.functional as F

    from surrogate.training.data import augment

    x = torch.rand(32, 3, 8, 8)
    g = torch.Generator().manual_seed(3)
    out = augment(x, 2, True, g)
    g = torch.Generator().manual_seed(3)
    oy, ox = (torch.randint(0, 5, (32,), generator=g) for _ in range(2))
    flip = torch.rand(32, generator=g) < 0.5
    xp = F.pad(x, (2, 2, 2, 2))
    for i in range(32):
        want = xp[i, :, oy[i] : oy[i] + 8, ox[i] : ox[i] + 8]
        assert torch.equal(out[i], want.flip(2) if flip[i] else want)


# ---- the trainer ---------------------------------------------------------------------------------------
def test_training_learns_is_reproducible_and_records_every_epoch():
    from surrogate.costmodel import params_m

    a = run(epochs=4)
    b = run(epochs=4)
    c = run(seed=1, epochs=4)
    assert a["status"] == "ok" and len(a["curves"]["valid_acc"]) == 4
    assert accuracy_curves(a) == accuracy_curves(b)  # bit for bit
    assert accuracy_curves(a) != accuracy_curves(c)
    assert a["curves"]["train_loss"][-1] < a["curves"]["train_loss"][0]
    assert a["valid_acc"] > 25.0  # ten classes: chance is 10 %
    assert all(t > 0 for t in a["curves"]["epoch_time_s"])
    assert a["train_time_s"] == pytest.approx(
        sum(a["curves"]["epoch_time_s"]) + sum(a["curves"]["valid_time_s"])
    )
    # the real network's parameters: the analytic count with a 1-channel stem
    assert a["params_m"] == pytest.approx(
        params_m([CELL], C=4, N=1)[0] - 2 * 9 * 4 / 1e6, abs=1e-12
    )


def test_diverged_run_is_recorded_with_a_status_not_a_crash():
    r = run(cell=6111, epochs=3, lr=1e6)
    assert r["status"] == "diverged"
    curves = r["curves"]
    assert len(curves["valid_acc"]) == 3 and math.isnan(curves["train_loss"][0])
    assert all(math.isnan(v) for v in curves["valid_acc"][1:])  # never trained
    assert r["valid_acc"] == curves["valid_acc"][0] and 0.0 <= r["valid_acc"] <= 100.0


def test_resume_from_checkpoint_gives_the_same_curve(tmp_path):
    import torch

    ckpt = tmp_path / "checkpoint.pt"

    class Stop(Exception):
        pass

    def stop_after_2(epoch, rec, resumed):
        if epoch == 2 and not resumed:
            raise Stop

    with pytest.raises(Stop):
        run(epochs=4, checkpoint=ckpt, on_epoch=stop_after_2)
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == 2 and len(state["records"]) == 2
    assert {"torch", "data", "numpy", "python"} <= set(state["rng"])
    resumed = run(epochs=4, checkpoint=ckpt)
    assert resumed["resumed_at"] == [2]
    assert accuracy_curves(resumed) == accuracy_curves(run(epochs=4))
    with pytest.raises(NasscoutError, match="belongs to another run"):
        run(seed=5, epochs=4, checkpoint=ckpt)


# ---- the run store -------------------------------------------------------------------------------------
def fake_results(base: dict, cells: list[int]) -> list[dict]:
    """Copies of a real run under other cell ids (store tests need many runs, not many trainings)."""
    out = []
    for k, c in enumerate(cells):
        r = json.loads(json.dumps(base))
        r["cell"] = c
        r["valid_acc"] = base["valid_acc"] + k
        r["curves"]["valid_acc"][-1] = r["valid_acc"]
        out.append(r)
    return out


@pytest.fixture(scope="module")
def one_run():
    return run(epochs=3)


def test_store_consolidates_into_a_benchmark_file(tmp_path, one_run):
    from surrogate.tabular import TabularBenchmark
    from surrogate.training.runstore import RunStore

    store = RunStore(tmp_path / "s.h5", "fashion-mnist", tiny())
    for r in fake_results(one_run, [5, 3, 9]):
        store.write_result(r)
    store.consolidate()
    b = TabularBenchmark.open(tmp_path / "s.h5")
    info = b.info()
    assert info["cells"] == 3 and info["epochs"] == {"fashion-mnist@3": 3}
    q = b.query([3, 5, 9], dataset="fashion-mnist", seed=0)
    assert np.allclose(q.valid_acc, [one_run["valid_acc"] + k for k in (1, 0, 2)], atol=1e-4)
    curve = b.curves([5], dataset="fashion-mnist", metric="valid_loss")[0]
    assert np.allclose(curve, one_run["curves"]["valid_loss"], atol=1e-6)
    # a copy of the file without its runs folder still grows
    other = tmp_path / "copy.h5"
    other.write_bytes((tmp_path / "s.h5").read_bytes())
    s2 = RunStore(other, "fashion-mnist", tiny())
    s2.write_result(fake_results(one_run, [11])[0])
    s2.consolidate()
    assert TabularBenchmark.open(other).info()["cells"] == 4


def test_store_refuses_other_settings_and_other_files(tmp_path, one_run):
    from surrogate.store import write_store
    from surrogate.training.runstore import RunStore

    table = write_store(
        tmp_path / "table.h5",
        {"cells": np.arange(2), "cifar10/fid_200/valid_acc": np.ones((2, 1))},
        name="table",
    )

    s = RunStore(tmp_path / "s.h5", "fashion-mnist", tiny())
    s.write_result(one_run)
    with pytest.raises(NasscoutError, match="epochs 3 vs 5.*refusing to mix"):
        RunStore(tmp_path / "s.h5", "fashion-mnist", tiny(epochs=5))  # runs folder only
    s.consolidate()
    (tmp_path / "s.runs" / "settings.json").unlink()
    with pytest.raises(NasscoutError, match="lr 0.1 vs 0.2"):
        RunStore(tmp_path / "s.h5", "fashion-mnist", tiny(lr=0.2))  # the file's settings
    with pytest.raises(NasscoutError, match="not a run store"):
        RunStore(table, "fashion-mnist", tiny())
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(NasscoutError, match="not a readable HDF5 file"):
        RunStore(tmp_path / "junk.h5", "fashion-mnist", tiny())
    with h5py.File(tmp_path / "alien.h5", "w") as f:
        f.attrs["schema"] = "someone-else"
    with pytest.raises(NasscoutError, match="not a nasscout benchmark file"):
        RunStore(tmp_path / "alien.h5", "fashion-mnist", tiny())


def _writer(path: str, base: dict, cells: list[int]) -> None:
    from surrogate.training.runstore import RunStore

    store = RunStore(path, "fashion-mnist", tiny())
    for r in fake_results(base, cells):
        with store.run_lock(r["cell"], r["seed"]):
            store.write_result(r)
        store.consolidate()


def test_concurrent_writers_never_corrupt_the_store(tmp_path, one_run):
    import multiprocessing as mp

    from surrogate.tabular import TabularBenchmark

    path = str(tmp_path / "s.h5")
    ctx = mp.get_context("fork")
    procs = [
        ctx.Process(target=_writer, args=(path, one_run, list(range(k, 40, 4)))) for k in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    b = TabularBenchmark.open(path)  # checksum verified
    assert b.info()["cells"] == 40
    assert not list(Path(tmp_path).glob("*.tmp")) and not list(Path(tmp_path).glob(".*.tmp"))


# ---- the benchmark contract ------------------------------------------------------------------------------
def test_training_benchmark_trains_once_and_answers_like_a_table(tmp_path):
    from surrogate.benchmark import Benchmark
    from surrogate.training.benchmark import TrainingBenchmark

    b = TrainingBenchmark("fashion-mnist", tiny(), store=tmp_path / "t.h5")
    assert isinstance(b, Benchmark) and b.fidelities == (3,)
    with pytest.raises(
        NasscoutError, match="no cell of train:fashion-mnist:cpu-mini is trained yet"
    ):
        b.best("fashion-mnist")
    assert b.cells.size == 0
    est = b.cost([CELL, 6111], dataset="fmnist")  # before any training: an estimate, no training
    assert np.all(est > 0) and not (tmp_path / "t.runs" / f"c{CELL:05d}-s0").exists()
    rec = b.query([CELL, 6111], dataset="fashion-mnist", seed="mean")
    assert rec.fidelity == 3 and np.all((rec.valid_acc > 10) & (rec.valid_acc <= 100))
    assert (tmp_path / "t.runs" / f"c{CELL:05d}-s0" / "result.json").exists()
    again = b.query([6111, CELL], dataset="fashion-mnist", seed=np.random.default_rng(0))
    assert np.array_equal(again.valid_acc, rec.valid_acc[::-1])  # cached: one seed, same answer
    measured = b.cost([CELL], dataset="fashion-mnist")
    assert measured[0] == pytest.approx(rec.train_time_s[0])
    assert b.best("fashion-mnist")[1] == pytest.approx(rec.valid_acc.max())
    assert b.curves([CELL], dataset="fashion-mnist").shape == (1, 3)
    assert b.info()["cells"] == 2 and list(b.cells) == sorted([CELL, 6111])  # consolidated
    with pytest.raises(NasscoutError, match="unknown fidelity 200 .* accepted epochs: 3"):
        b.query([CELL], dataset="fashion-mnist", fidelity=200)
    with pytest.raises(NasscoutError, match="unknown dataset 'cifar10'"):
        b.query([CELL], dataset="cifar10")


def test_runner_searches_on_real_training(tmp_path):
    from strategies.runner import Runner
    from surrogate.training.benchmark import TrainingBenchmark

    b = TrainingBenchmark("fashion-mnist", tiny(2), store=tmp_path / "r.h5")
    b.query([CELL], dataset="fashion-mnist")  # the runner needs a best cell to measure regret
    traj = Runner(b, dataset="fashion-mnist", seed=0, budget_queries=3).run("rs")
    assert len(traj) == 3
    cost = traj.column("cost_s")
    assert np.all(cost > 0)
    cells = traj.column("index")
    assert np.allclose(cost, b.cost(cells, dataset="fashion-mnist"))  # measured seconds


def test_registry_resolves_train_names(tmp_path, monkeypatch):
    from surrogate import registry
    from surrogate.training.benchmark import TrainingBenchmark

    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path))
    b = registry.load_benchmark(f"train:fmnist:cpu-mini:{tmp_path / 'x.h5'}")
    assert isinstance(b, TrainingBenchmark) and b.fidelities == (20,)
    assert b.name == "train:fashion-mnist:cpu-mini"
    with pytest.raises(NasscoutError, match="unknown dataset 'mnist2'"):
        registry.load_benchmark("train:mnist2")


def _own_npz(path: Path) -> Path:
    """A user's images: four Fashion-MNIST classes, 500 training and 200 test images."""
    from surrogate.training.data import _fashion_mnist, data_root, prepare_fashion_mnist

    root = prepare_fashion_mnist(data_root())
    (x, y), (xt, yt) = _fashion_mnist(root, train=True), _fashion_mnist(root, train=False)
    keep, keept = np.flatnonzero(y < 4)[:500], np.flatnonzero(yt < 4)[:200]
    np.savez(
        path, x_train=x[keep, :, :, 0], y_train=y[keep], x_test=xt[keept, :, :, 0], y_test=yt[keept]
    )
    return path


def test_a_train_spec_names_your_own_npz_images(tmp_path, monkeypatch, capsys):
    """train:npz:PATH[:PRESET[:STORE]]: real training on your own images, for any strategy of `nasscout run`."""
    from surrogate import registry
    from surrogate.training.benchmark import TrainingBenchmark, open_training_benchmark

    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path / "home"))
    npz = _own_npz(tmp_path / "own.npz")
    store = tmp_path / "own.h5"
    TrainingBenchmark(f"npz:{npz}", tiny(2), store=store).query([CELL], dataset=f"npz:{npz}")
    b = registry.load_benchmark(f"train:npz:{npz}::{store}")
    assert b.dataset_name == f"npz:{npz.resolve()}" and b.preset == tiny(2) and b.path == store
    code, _, err = nasscout(
        capsys, "run", "--benchmark", f"train:npz:{npz}::{store}", "--dataset", f"npz:{npz}",
        "--strategy", "rs", "--budget-queries", "3", "--seeds", "1", "--jobs", "1", "-q",
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 0, err
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 and len(b.cells) >= 3  # three cells trained on your images
    default = open_training_benchmark(f"train:npz:{npz}:cpu-mini")
    assert default.path.parent == tmp_path / "home" / "runs"
    assert default.path.name.startswith("npz-own-") and default.path.name.endswith(
        "-cpu-mini-e20.h5"
    )
    for spec, match in (
        ("train:npz", "cannot read 'train:npz'; accepted: train:DATASET"),
        (f"train:npz:{tmp_path / 'none.npz'}", "none.npz' does not exist"),
    ):
        with pytest.raises(NasscoutError, match=match) as exc:
            open_training_benchmark(spec)
        assert "\n" not in str(exc.value)


def test_default_store_starts_from_the_committed_data(tmp_path, monkeypatch):
    from surrogate.tabular import TabularBenchmark
    from surrogate.training.benchmark import COMMITTED, open_training_benchmark

    committed = COMMITTED[("fashion-mnist", "cpu-mini")]
    if not committed.exists():
        pytest.skip("datasets/nb201-fmnist-mini.h5 not built yet")
    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path))
    table = TabularBenchmark.open(committed)
    b = open_training_benchmark("train:fashion-mnist")
    assert np.array_equal(b.cells, table.cells)
    cell = int(table.cells[-1])
    rec = b.query([cell], dataset="fashion-mnist", seed=0)  # answered from the file: no training
    assert rec.valid_acc[0] == pytest.approx(
        table.query([cell], dataset="fashion-mnist").valid_acc[0]
    )
    assert not (b.store.runs / f"c{cell:05d}-s0").exists()
    assert b.best("fashion-mnist") == pytest.approx(table.best("fashion-mnist"))


# ---- the CLI -------------------------------------------------------------------------------------------
def nasscout(capsys, *args):
    from strategies.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_train_records_and_refuses_bad_input(tmp_path, capsys):
    store = str(tmp_path / "c.h5")
    tiny_sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
    code, out, err = nasscout(
        capsys, "train", "--arch", str(CELL), "--dataset", "fashion-mnist", "--epochs", "2",
        "--store", store, *tiny_sets,
    )  # fmt: skip
    assert code == 0, err
    assert "(#1000) seed 0 on fashion-mnist, preset cpu-mini, 2 epochs: valid" in out
    assert "2/2" in err  # the progress bar
    code, out, err = nasscout(capsys, "bench", "info", store, "--json")
    assert code == 0 and json.loads(out)["epochs"] == {"fashion-mnist@2": 2}
    bad = [
        (
            ["--dataset", "svhn"],
            "unknown dataset 'svhn'; accepted: fashion-mnist, cifar10, cifar100",
        ),
        (["--preset", "gpu-max"], "unknown preset 'gpu-max'; accepted: nb201, cpu-mini"),
        (["--epochs", "0"], "--epochs 0 is invalid"),
        (["--arch", "|conv_9x9~0|"], "conv_9x9"),
        (["--epochs", "3"], "refusing to mix them, use another --store"),
    ]
    for extra, message in bad:
        args = {
            "--arch": str(CELL),
            "--dataset": "fashion-mnist",
            "--epochs": "2",
            "--store": store,
        }
        args.update(dict(zip(extra[::2], extra[1::2])))
        flat = [x for kv in args.items() for x in kv]
        code, out, err = nasscout(capsys, "train", *flat, *tiny_sets)
        assert code == 2, (extra, err)
        assert message in err and err.count("\n") == 1, err


@pytest.mark.slow  # builds the NB201 table once per test process
def test_cell_selection_is_a_stable_stratified_prefix(nb201):
    from surrogate.spaces.nb201 import canonical_codes
    from surrogate.training.selection import fullruns_cells

    cells = fullruns_cells(160)
    assert np.array_equal(fullruns_cells(60), cells[:60])
    assert len(np.unique(canonical_codes(cells))) == 160  # one cell per isomorphism class
    acc = nb201.query(cells, dataset="cifar10", seed="mean").valid_acc
    best = nb201.query(nb201.space.all_indices, dataset="cifar10", seed="mean").valid_acc
    assert acc[0] == pytest.approx(np.max(best)) and np.all(acc[:20] > 91.0)
    rest = acc[25:]
    assert np.min(rest) < 60 and np.max(rest) > 90  # the stratified part spans the range
    assert os.environ["NASSCOUT_OFFLINE"] == "1"
