"""Supernet training as a product: sampling, the file, exact resume (also after a real kill -9), scoring with
its cache, and every bad input as one line with exit code 2 (real Fashion-MNIST, tiny presets)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from strategies.cli.main import main
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.presets import get_preset
from surrogate.training.supernet_score import (
    ScoreSettings,
    score_cells,
    supernet_losses,
    supernet_scores,
)
from surrogate.training.supernet_train import (
    SupernetRun,
    epoch_cells,
    load_shared_weights,
    read_supernet_file,
    train_supernet,
)
from tests.test_training import FMNIST

pytestmark = pytest.mark.skipif(
    not (FMNIST / "train-images-idx3-ubyte.gz").exists()
    and not Path("/usr/share/datasets/fashion-mnist").exists(),
    reason="Fashion-MNIST not available offline",
)
REPO = Path(__file__).resolve().parents[1]
SPACE = NB201Space()
TINY = {"n_train": 256, "n_valid": 128, "n_test": 128, "C": 4, "N": 1, "image_size": 8}
SETS = [x for k, v in {**TINY, "batch_size": 32}.items() for x in ("--set", f"{k}={v}")]


def preset(**more):
    return get_preset("cpu-mini", {**TINY, "batch_size": 32, **more})


def train(out: Path, epochs: int = 2, sampling: str = "uniform", seed: int = 0, **kw):
    return train_supernet(SupernetRun("fashion-mnist", preset(), epochs, out, seed, sampling), **kw)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state"]["model"]


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sn") / "u.pt"
    train(out, epochs=2)
    return out


def test_fair_steps_use_every_op_once_on_every_edge_and_uniform_is_one_cell():
    fair = epoch_cells(3, 0, steps=40, sampling="fair")
    assert fair.shape == (40, 5, 6)
    assert np.array_equal(np.sort(fair, axis=1), np.broadcast_to(np.arange(5)[:, None], (40, 5, 6)))
    assert not np.array_equal(fair[0], fair[1])  # random permutations, not a fixed pattern
    uni = epoch_cells(3, 0, steps=400, sampling="uniform")
    assert uni.shape == (400, 1, 6) and set(np.unique(uni)) == set(range(5))
    assert np.array_equal(uni, epoch_cells(3, 0, steps=400, sampling="uniform"))
    assert not np.array_equal(uni, epoch_cells(3, 1, steps=400, sampling="uniform"))
    with pytest.raises(NasscoutError, match="accepted: uniform, fair"):
        epoch_cells(3, 0, 4, "greedy")


def test_file_holds_plain_data_and_its_records(trained):
    data = torch.load(trained, weights_only=True)  # loads without running code
    assert data["format"] == "nasscout-supernet-1" and data["space"] == "nb201"
    assert data["dataset"] == "fashion-mnist" and data["preset"] == preset().settings()
    assert data["seed"] == 0 and data["sampling"] == "uniform" and data["epochs_trained"] == 2
    assert data["train_seconds"] > 0 and data["train_cpu_seconds"] > 0
    assert len(data["records"]) == 2 and np.isfinite(data["records"][-1]["train_loss"])
    assert set(data["versions"]) >= {"torch", "nasscout"}


class Stop(Exception):
    pass


@pytest.mark.parametrize("sampling", ["uniform", "fair"])
def test_interrupted_training_resumes_to_the_same_weights(tmp_path, sampling):
    full = tmp_path / "full.pt"
    train(full, epochs=3, sampling=sampling, seed=1)

    def stop_after_one(epoch, rec, resumed):
        if epoch == 1 and not resumed:
            raise Stop

    part = tmp_path / "part.pt"
    with pytest.raises(Stop):
        train(part, epochs=3, sampling=sampling, seed=1, on_epoch=stop_after_one)
    assert read_supernet_file(part)["epochs_trained"] == 1
    header = train(part, epochs=3, sampling=sampling, seed=1)
    assert header["resumed_at"] == [1] and header["trained_now"] == 2
    a, b = weights(full), weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)
    losses = [r["train_loss"] for r in torch.load(full, weights_only=True)["records"]]
    assert [r["train_loss"] for r in header["records"]] == losses


@pytest.mark.slow
def test_kill_9_then_rerun_gives_the_uninterrupted_weights(tmp_path):
    epochs = 6
    ref = tmp_path / "ref.pt"
    train(ref, epochs=epochs, seed=2)
    out = tmp_path / "k.pt"
    cmd = [
        sys.executable, "-m", "strategies.cli.main", "supernet", "train", "--dataset", "fashion-mnist",
        "--epochs", str(epochs), "--seed", "2", "--out", str(out), *SETS,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            try:
                if torch.load(out, weights_only=True)["epochs_trained"] >= 2:
                    break
            except (FileNotFoundError, EOFError, RuntimeError):
                pass
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    done = read_supernet_file(out)["epochs_trained"]
    assert 2 <= done < epochs
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stderr and f"{epochs}/{epochs} epochs" in rerun.stdout
    a, b = weights(ref), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_scores_per_class_every_cell_and_cache(trained):
    sw, header = load_shared_weights(trained)
    cls = SPACE.class_ids
    members = np.flatnonzero(cls == np.flatnonzero(np.bincount(cls) >= 3)[5])[:3]
    cells = np.array([0, 1000, 9930, *members.tolist()])
    every = ScoreSettings(recal_batches=2, eval_images=64, per_class=False)
    idx, s_every, loss, sec = score_cells(sw, cells, every)
    assert np.array_equal(s_every, sw.score(cells.tolist(), recal_batches=2, max_images=64))
    assert (
        np.all(sec > 0) and np.all(loss > 0) and len(np.unique(loss)) > len(np.unique(s_every)) // 2
    )
    per = ScoreSettings(recal_batches=2, eval_images=64, per_class=True)
    _, s_class, l_class, _ = score_cells(sw, cells, per)
    for c, s in zip(cells, s_class):  # every member carries its representative's own score
        assert (
            s == sw.score([int(SPACE.canonical_indices([c])[0])], recal_batches=2, max_images=64)[0]
        )
    got = supernet_scores(trained, cells, per)
    assert np.array_equal(got[1], s_class)
    assert np.array_equal(supernet_losses(trained, cells, per), l_class)
    cache = trained.with_name(trained.name + ".scores-r2-i64-valid-class.npz")
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    again = supernet_scores(
        trained, cells[:3], per
    )  # from the cache: nothing rescored, nothing written
    assert np.array_equal(again[1], s_class[:3]) and cache.stat().st_mtime_ns == stamp
    other = supernet_scores(trained, cells[:3], ScoreSettings(recal_batches=0, eval_images=64))
    assert not np.array_equal(other[1], s_class[:3])  # BN recalibration changes the scores


def test_cli_train_score_info(trained, tmp_path, capsys):
    cells = tmp_path / "cells.csv"
    cells.write_text("arch\n1000\n" + SPACE.format(9930) + "\n")
    out = tmp_path / "s.csv"
    code, stdout, err = cli(
        capsys, "supernet", "score", str(trained), "--cells", str(cells), "--out", str(out),
        "--recal-batches", "2", "--eval-images", "64",
    )  # fmt: skip
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["cell", "arch", "score"] and len(lines) == 3
    assert lines[2].split(",")[1] == SPACE.format(9930)
    assert "2 cells" in stdout and "best" in stdout
    code, stdout, _ = cli(capsys, "supernet", "info", str(trained))
    assert code == 0 and "2/2 epochs" in stdout and "uniform" in stdout


def _one_line_exit_2(capsys, *args, match: str) -> None:
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def test_bad_input_is_one_line_and_exit_code_2(trained, tmp_path, capsys):
    out = str(tmp_path / "x.csv")
    # a supernet file of another preset: training into it refuses
    _one_line_exit_2(
        capsys, "supernet", "train", "--dataset", "fashion-mnist", "--preset", "nb201", "--epochs", "2",
        "--out", str(trained), match="another supernet training (preset=",
    )  # fmt: skip
    _one_line_exit_2(
        capsys, "supernet", "train", "--dataset", "fashion-mnist", "--epochs", "2", "--out", str(trained),
        "--sampling", "fair", *SETS, match="sampling='uniform'",
    )  # fmt: skip
    # another search space, not a supernet at all, a missing file
    data = torch.load(trained, weights_only=True)
    torch.save({**data, "space": "nasbench101"}, tmp_path / "other.pt")
    _one_line_exit_2(
        capsys, "supernet", "score", str(tmp_path / "other.pt"), "--out", out, match="'nasbench101'"
    )
    (tmp_path / "text.pt").write_text("not a supernet\n")
    _one_line_exit_2(
        capsys,
        "supernet",
        "score",
        str(tmp_path / "text.pt"),
        "--out",
        out,
        match="not a nasscout supernet",
    )
    torch.save({"model": data["state"]["model"]}, tmp_path / "weights.pt")
    _one_line_exit_2(
        capsys,
        "supernet",
        "score",
        str(tmp_path / "weights.pt"),
        "--out",
        out,
        match="not a nasscout",
    )
    _one_line_exit_2(
        capsys, "supernet", "score", str(tmp_path / "none.pt"), "--out", out, match="not found"
    )
    # scoring before training: a file with 0 epochs trained
    torch.save({**data, "epochs_trained": 0}, tmp_path / "zero.pt")
    _one_line_exit_2(
        capsys,
        "supernet",
        "score",
        str(tmp_path / "zero.pt"),
        "--out",
        out,
        match="0 epochs trained",
    )
    # a cell outside the space
    bad = tmp_path / "bad.txt"
    bad.write_text("0\n15625\n")
    _one_line_exit_2(
        capsys, "supernet", "score", str(trained), "--cells", str(bad), "--out", out, match="15625"
    )
    bad.write_text("|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    _one_line_exit_2(
        capsys,
        "supernet",
        "score",
        str(trained),
        "--cells",
        str(bad),
        "--out",
        out,
        match="conv_7x7",
    )
    # an epochs budget too small for one epoch
    for epochs in ("0", "-2"):
        _one_line_exit_2(
            capsys, "supernet", "train", "--dataset", "fashion-mnist", "--epochs", epochs, "--out",
            str(tmp_path / "e.pt"), match="too small for one epoch",
        )  # fmt: skip
    assert not (tmp_path / "e.pt").exists()
    _one_line_exit_2(
        capsys, "supernet", "train", "--dataset", "fashion-mnist", "--epochs", "1", "--sampling", "best",
        "--out", str(tmp_path / "e.pt"), match="accepted: uniform, fair",
    )  # fmt: skip
    _one_line_exit_2(
        capsys, "supernet", "score", str(trained), "--out", out, "--recal-batches", "-1",
        match="recal_batches=-1",
    )  # fmt: skip
