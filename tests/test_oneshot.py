"""One-shot estimation as a benchmark (``oneshot:FILE``) and as a predictor (``oneshot``), end to end on a tiny
supernet trained on real Fashion-MNIST: a search runs on it and its report shows the cost; the predictor
ranks exactly as the supernet scores; bad files are one line and exit code 2."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from predictors.registry import make_predictor
from strategies.cli.main import main
from surrogate.errors import NasscoutError
from surrogate.training.presets import get_preset
from surrogate.training.supernet_score import ScoreSettings, supernet_losses, supernet_scores
from surrogate.training.supernet_train import SupernetRun, train_supernet
from tests.test_training import FMNIST

pytestmark = pytest.mark.skipif(
    not (FMNIST / "train-images-idx3-ubyte.gz").exists()
    and not Path("/usr/share/datasets/fashion-mnist").exists(),
    reason="Fashion-MNIST not available offline",
)
REPO = Path(__file__).resolve().parents[1]
TINY = {"n_train": 256, "n_valid": 128, "n_test": 128, "C": 4, "N": 1, "image_size": 8}
MINI = str(REPO / "datasets" / "nb201-fmnist-mini.h5")
SETTINGS = ScoreSettings(recal_batches=2)


@pytest.fixture(scope="module")
def supernet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("oneshot") / "sn.pt"
    train_supernet(SupernetRun("fashion-mnist", get_preset("cpu-mini", TINY), 2, out))
    return out


@pytest.fixture(scope="module")
def mini_cells() -> np.ndarray:
    from surrogate.tabular import TabularBenchmark

    return TabularBenchmark.open(MINI).cells_for("fashion-mnist")


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_search_runs_on_the_supernet_and_reports_its_cost(supernet, mini_cells, tmp_path, capsys):
    supernet_scores(supernet, mini_cells[:80], SETTINGS)
    run = tmp_path / "run"
    code, _, err = cli(
        capsys, "run", "--benchmark", f"oneshot:{supernet}", "--dataset", "fashion-mnist",
        "--strategy", "rea", "--seeds", "2", "--budget-queries", "15", "--out", run,
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(open(run / "results.csv")))
    assert len(rows) == 30
    cost = [float(r["cost_s"]) for r in rows]
    assert all(c > 0 for c in cost)
    from surrogate.oneshot import OneShotBenchmark

    b = OneShotBenchmark(supernet)
    got = b.query([int(r["index"]) for r in rows], dataset="fashion-mnist")
    assert np.allclose(got.valid_acc, [float(r["true_acc"]) for r in rows])
    assert np.allclose(got.train_time_s, cost)  # the cost is the measured scoring seconds
    code, out, err = cli(capsys, "report", run, "--no-plots")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("cost: scoring"))
    per_seed = [sum(float(r["cost_s"]) for r in rows if r["seed"] == s) for s in ("0", "1")]
    assert f"rea {np.mean(per_seed):,.1f} s" in line and "2 epochs, uniform sampling" in line


def test_unscored_cells_are_scored_on_demand_and_cached(supernet):
    from surrogate.oneshot import OneShotBenchmark

    supernet_scores(supernet, [0, 1, 2], SETTINGS)
    b = OneShotBenchmark(supernet)
    before = set(b.cells_for("fashion-mnist").tolist())
    new = next(c for c in range(5000, 15625) if c not in before)
    rec = b.query([new], dataset="fashion-mnist")
    assert np.isfinite(rec.valid_acc[0]) and rec.train_time_s[0] > 0 and np.isnan(rec.test_acc[0])
    assert new in set(b.cells_for("fashion-mnist").tolist())
    with pytest.raises(NasscoutError, match="seed"):
        b.query([new], dataset="fashion-mnist", seed=7)


def test_predictor_ranks_as_the_supernet_and_eval_runs(supernet, mini_cells, tmp_path, capsys):
    cells = mini_cells[:40]
    model = make_predictor("oneshot", supernet=str(supernet), recal_batches=2)
    assert not model.needs_training
    want = -supernet_losses(supernet, cells, SETTINGS)
    assert np.array_equal(model.predict(cells), want)
    acc = make_predictor("oneshot", supernet=str(supernet), recal_batches=2, by="accuracy")
    assert np.array_equal(acc.predict(cells), supernet_scores(supernet, cells, SETTINGS)[1])
    y = np.linspace(80, 85, 20)
    fitted = make_predictor("oneshot", supernet=str(supernet), recal_batches=2).fit(cells[:20], y)
    pred = fitted.predict(cells)  # calibrated to percent, same order as the raw score
    assert np.array_equal(np.argsort(pred, kind="stable"), np.argsort(want, kind="stable"))
    code, out, err = cli(
        capsys, "predictors", "eval", "--benchmark", MINI, "--dataset", "fashion-mnist",
        "--predictors", "oneshot", "--option", f"oneshot.supernet={supernet}",
        "--option", "oneshot.recal_batches=2", "--train-sizes", "10", "--test-size", "30",
        "--seeds", "1", "--features", "none",
    )  # fmt: skip
    assert code == 0, err
    assert "oneshot" in out


def _one_line_exit_2(capsys, *args, match: str) -> None:
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def test_bad_supernet_files_are_one_line_and_exit_code_2(supernet, tmp_path, capsys):
    run = ["--dataset", "fashion-mnist", "--strategy", "rea", "--budget-queries", "5"]
    _one_line_exit_2(
        capsys, "run", "--benchmark", f"oneshot:{tmp_path / 'none.pt'}", *run, "--out", tmp_path / "r1",
        match="not found",
    )  # fmt: skip
    (tmp_path / "text.pt").write_text("hello\n")
    _one_line_exit_2(
        capsys, "run", "--benchmark", f"oneshot:{tmp_path / 'text.pt'}", *run, "--out", tmp_path / "r2",
        match="not a nasscout supernet file",
    )  # fmt: skip
    data = torch.load(supernet, weights_only=True)
    torch.save({**data, "epochs_trained": 0}, tmp_path / "zero.pt")
    _one_line_exit_2(
        capsys, "bench", "info", f"oneshot:{tmp_path / 'zero.pt'}", match="0 epochs trained"
    )
    torch.save(data, tmp_path / "fresh.pt")  # a copy: trained, but no cell scored for it yet
    _one_line_exit_2(
        capsys, "bench", "info", f"oneshot:{tmp_path / 'fresh.pt'}", match="no cell of"
    )
    _one_line_exit_2(
        capsys, "predictors", "eval", "--benchmark", MINI, "--dataset", "fashion-mnist",
        "--predictors", "oneshot", "--train-sizes", "10", "--test-size", "30", "--seeds", "1",
        match="needs a supernet file",
    )  # fmt: skip
    _one_line_exit_2(
        capsys, "predictors", "eval", "--benchmark", MINI, "--dataset", "fashion-mnist",
        "--predictors", "oneshot", "--option", f"oneshot.supernet={tmp_path / 'text.pt'}",
        "--train-sizes", "10", "--test-size", "30", "--seeds", "1", match="not a nasscout supernet",
    )  # fmt: skip
