"""`nasscout search`: real training in segments, early stopping, the journal and exact resume after kill -9,
a real Dask scheduler, and bad input (one line, exit code 2, nothing lost). Tiny preset, 4-epoch trainings."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_calls import nasscout

from strategies.search.screen import StopRule
from surrogate.training.presets import get_preset
from surrogate.training.trainer import RunSpec, train_run

ROOT = Path(__file__).resolve().parents[1]
TINY = {"n_train": 256, "n_valid": 128, "n_test": 128, "batch_size": 64}
SETS = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
T = 4
# threshold 0.5: on these tiny trainings some candidates are certainly stopped
BASE = ["search", "--dataset", "fashion-mnist", "--epochs", str(T), "--early-stop-threshold", "0.5",
        *SETS]  # fmt: skip
BUDGET = ["--budget-epochs", "16"]


def _trials(folder: Path) -> list[tuple]:
    s = json.loads((folder / "summary.json").read_text())
    return [(t["cell"], t["status"], t["epochs_done"], t["curve"]) for t in s["trials"]]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("search") / "s"
    cmd = [sys.executable, "-m", "strategies.cli.main", *BASE, *BUDGET, "--out", str(out), "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, json.loads(proc.stdout)


def test_search_spends_its_budget_and_reports(finished):
    out, brief = finished
    s = json.loads((out / "summary.json").read_text())
    assert brief["finished"] and s["finished"]
    b = s["budget"]
    assert b["unit"] == "epochs" and b["total"] == 16
    assert b["spent_epochs"] == sum(t["epochs_done"] for t in s["trials"]) <= 16
    # no candidate starts unless a whole training still fits: the last one ended within the budget
    assert b["spent_epochs"] > 16 - T
    finals = [t for t in s["trials"] if t["status"] == "finished"]
    assert finals and all(t["epochs_done"] == T and len(t["curve"]) == T for t in finals)
    best = max(finals, key=lambda t: t["valid_acc"])
    assert s["best"]["cell"] == best["cell"] and s["best"]["valid_acc"] == best["valid_acc"]
    stopped = [t for t in s["trials"] if t["status"] == "stopped"]
    assert stopped, "threshold 0.5 stops some tiny trainings"
    for t in stopped:
        assert t["epochs_done"] < T and len(t["curve"]) == t["epochs_done"]
        assert t["p_better"] < 0.5 and "P(final >" in t["reason"]
    assert s["avoided"]["stopped_epochs"] == sum(T - t["epochs_done"] for t in stopped)
    assert s["avoided"]["screened_out"] > 50  # lowcost scores whole pools and trains a few
    assert s["prior"] == "nb201:cifar10"
    for name in ("report.html", "best_curve.png", "pareto.png", "budget.png", "trials.csv"):
        assert (out / name).stat().st_size > 0
    assert brief["report"]["report.html"] == str(out / "report.html")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["options"]["overrides"] == TINY and meta["options"]["epochs"] == T


def test_segments_train_exactly_what_one_straight_run_trains(finished, tmp_path):
    """The best cell was trained segment by segment in worker processes; one uninterrupted run of it is
    bit-identical (the checkpoint carries every state)."""
    out, _ = finished
    best = json.loads((out / "summary.json").read_text())["best"]
    preset = get_preset("cpu-mini", {**TINY, "epochs": T})
    straight = train_run(RunSpec("fashion-mnist", preset, best["cell"], 0))
    assert straight["curves"]["valid_acc"] == best["curve"]
    assert straight["curves"]["test_acc"] == best["test_curve"]


def test_trainer_stop_after_pauses_and_resumes_exactly(tmp_path):
    preset = get_preset("cpu-mini", {**TINY, "epochs": 3})
    spec = RunSpec("fashion-mnist", preset, 1000, 0, checkpoint=tmp_path / "c.pt")
    first = train_run(spec, stop_after=1)
    assert first["status"] == "paused" and first["epochs_done"] == 1
    assert len(first["curves"]["valid_acc"]) == 1
    rest = train_run(spec)
    assert rest["status"] == "ok" and rest["epochs_done"] == 3 and rest["resumed_at"] == [1]
    straight = train_run(RunSpec("fashion-mnist", preset, 1000, 0))
    assert rest["curves"]["valid_acc"] == straight["curves"]["valid_acc"]


def test_resume_of_a_finished_search_trains_nothing(finished, capsys):
    out, _ = finished
    before = (out / "events.jsonl").read_text()
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", out, "--resume", "--quiet")
    assert code == 0, err
    assert (out / "events.jsonl").read_text() == before


@pytest.mark.slow
def test_kill_9_mid_search_then_resume_equals_the_uninterrupted_search(finished, tmp_path, capsys):
    ref, _ = finished
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "strategies.cli.main",
        *BASE,
        *BUDGET,
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, start_new_session=True)
    events = out / "events.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if events.exists() and events.read_text().count('"e": "segment"') >= 3:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search ended before it could be killed"
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", out, "--resume", "--quiet")
    assert code == 0, err
    assert _trials(out) == _trials(ref)


@pytest.mark.slow
def test_a_real_dask_scheduler_runs_the_trainings(tmp_path, capsys):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        out = tmp_path / "dask"
        args = [*BASE, "--budget-epochs", "8", "--out", out, "--quiet", "--json"]
        code, stdout, err = nasscout(capsys, *args, "--dask-scheduler", cluster.scheduler_address)
    assert code == 0, err
    brief = json.loads(stdout)
    assert brief["where"].startswith(f"Dask scheduler {cluster.scheduler_address} (1 workers)")
    assert 4 <= brief["budget"]["spent_epochs"] <= 8 and brief["best"] is not None


# ---- the stop rule on real curves -------------------------------------------------------------------------
def test_domhan_rule_stops_a_poor_real_curve_and_keeps_the_best():
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(ROOT / "datasets" / "nb201-fmnist-mini.h5")
    cells = bench.cells_for("fashion-mnist")
    curves = bench.curves(cells, dataset="fashion-mnist", fidelity=20)
    finals = curves[:, -1]
    order = np.argsort(finals)
    rule = StopRule("domhan", 0.05, 20, seed=0)
    rule.learn(list(curves[order[-2]]))  # the second best finished
    # half-way, Domhan's rule stops some of the 10 worst trainings and none of the 20 best
    worst = [rule.decide(list(curves[i, :10])) for i in order[:10]]
    top = [rule.decide(list(curves[i, :10])) for i in order[-21:]]
    assert sum(d["stop"] for d in worst) >= 2
    assert all(d["p_better"] < 0.05 for d in worst if d["stop"])
    assert not any(d["stop"] for d in top)
    best = rule.decide(list(curves[order[-1], :10]))
    assert best["p_better"] > 0.5 and math.isfinite(best["predicted_final"])
    # Vizier's median rule compares the best so far with the finished trainings' running averages, which
    # the slow first epochs of these curves pull down: it stops only a training far below all of them
    median = StopRule("median", 0.05, 20, seed=0)
    for i in order[-11:-1]:
        median.learn(list(curves[i]))
    assert not median.decide(list(curves[order[0], :10]))["stop"]
    assert median.decide(list(curves[order[0], :10] - 30.0))["stop"]
    assert not median.decide(list(curves[order[-1], :10]))["stop"]
    assert not StopRule("domhan", 0.05, 20, seed=0).decide(list(curves[order[0], :5]))["stop"]


def test_a_fitted_extrapolator_waits_for_its_warm_up_then_stops_poor_curves():
    """--early-stop-extrapolator best --early-stop-fit: calibrated on the finished trainings, from
    --early-stop-min-completed of them on; the same extrapolator unfitted stops none of these."""
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(ROOT / "datasets" / "nb201-fmnist-mini.h5")
    cells = bench.cells_for("fashion-mnist")
    curves = bench.curves(cells, dataset="fashion-mnist", fidelity=20)
    order = np.argsort(curves[:, -1])
    rule = StopRule("domhan", 0.01, 20, seed=0, extrapolator="best", fit=True, min_completed=3)
    assert StopRule("domhan", 0.01, 20, seed=0, fit=True).min_completed == 10  # MIN_FIT by default
    rule.learn(list(curves[order[-2]]))
    wait = rule.decide(list(curves[order[0], :10]))
    assert not wait["stop"] and "1 of 3 finished trainings before any stop" in wait["reason"]
    for i in np.random.default_rng(0).choice(order[:-2], 12, replace=False):
        rule.learn(list(curves[i]))
    worst = [rule.decide(list(curves[i, :10])) for i in order[:20]]
    top = [rule.decide(list(curves[i, :10])) for i in order[-10:]]
    assert sum(d["stop"] for d in worst) >= 1 and not any(d["stop"] for d in top)
    plain = StopRule("domhan", 0.01, 20, seed=0, extrapolator="best")
    plain.learn(list(curves[order[-2]]))
    assert not any(plain.decide(list(curves[i, :10]))["stop"] for i in order[:20])


def test_search_with_a_fitted_extrapolator_records_it_and_keeps_its_warm_up(tmp_path, capsys):
    out = tmp_path / "fit"
    es = [
        "--early-stop-extrapolator",
        "best",
        "--early-stop-fit",
        "--early-stop-min-completed",
        "3",
    ]
    code, _, err = nasscout(capsys, *BASE, "--budget-epochs", "24", *es, "--out", out, "--quiet")
    assert code == 0, err
    s = json.loads((out / "summary.json").read_text())
    assert s["early_stop"] | {"checkpoints": None} == {
        "rule": "domhan", "threshold": 0.5, "extrapolator": "best", "fit": True, "min_completed": 3,
        "calibration": None, "checkpoints": None,
    }  # fmt: skip
    assert json.loads((out / "meta.json").read_text())["options"]["extrapolator"] == "best"
    ended = [t for t in s["trials"] if t["status"] in ("finished", "stopped")]
    assert len(ended) >= 4 and all(
        t["status"] == "finished" for t in ended[:3]
    )  # one worker: in order
    code, _, err = nasscout(capsys, *BASE, "--budget-epochs", "24", "--out", out, "--resume")
    assert code == 2 and "--early-stop-extrapolator 'fast' differs from the search's 'best'" in err


def test_a_calibration_from_an_earlier_study_acts_from_the_first_finished_training():
    """--early-stop-calibration: the fit starts from another study's complete curves, so there is no
    warm-up; here the mini set's other cells calibrate decisions on 30 of its cells."""
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(ROOT / "datasets" / "nb201-fmnist-mini.h5")
    curves = bench.curves(bench.cells_for("fashion-mnist"), dataset="fashion-mnist", fidelity=20)
    order = np.argsort(curves[:, -1])
    judged = np.concatenate([order[:20], order[-2:]])
    other = np.delete(curves, judged, axis=0)  # the earlier study: the 178 other cells
    rule = StopRule("domhan", 0.01, 20, seed=0, extrapolator="best", calibration=other)
    assert rule.fit and rule.min_completed == 1
    rule.learn(list(curves[order[-2]]))  # the search's first finished training: the second best
    worst = [rule.decide(list(curves[i, :10])) for i in order[:20]]
    best = rule.decide(list(curves[order[-1], :10]))
    assert sum(d["stop"] for d in worst) >= 10 and not best["stop"] and best["p_better"] > 0.01
    assert not any("before any stop" in d["reason"] for d in [*worst, best])
    uncalibrated = StopRule("domhan", 0.01, 20, seed=0, extrapolator="best")
    uncalibrated.learn(list(curves[order[-2]]))
    assert not any(uncalibrated.decide(list(curves[i, :10]))["stop"] for i in order[:20])


def test_search_calibrated_on_an_earlier_store_records_it_and_refuses_a_changed_one(
    tmp_path, capsys
):
    store = tmp_path / "earlier.h5"
    for cell in (1000, 6111, 9930):  # an earlier study: three 4-epoch trainings of the same recipe
        code, _, err = nasscout(
            capsys, "train", "--arch", str(cell), "--dataset", "fashion-mnist", "--epochs", str(T),
            *SETS, "--store", store,
        )  # fmt: skip
        assert code == 0, err
    out = tmp_path / "cal"
    cal = ["--early-stop-extrapolator", "best", "--early-stop-calibration", str(store)]
    code, _, err = nasscout(capsys, *BASE, "--budget-epochs", "12", *cal, "--out", out, "--quiet")
    assert code == 0, err
    s = json.loads((out / "summary.json").read_text())
    assert s["early_stop"]["calibration"] == str(store.resolve()) and s["early_stop"]["fit"] is True
    meta = json.loads((out / "meta.json").read_text())["options"]
    assert meta["calibration"] == str(store.resolve()) and len(meta["calibration_sha256"]) == 64
    reasons = [t["reason"] or "" for t in s["trials"]]
    assert not any("before any stop" in r for r in reasons)
    code, _, err = nasscout(
        capsys, "train", "--arch", "7154", "--dataset", "fashion-mnist", "--epochs", str(T), *SETS,
        "--store", store,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = nasscout(capsys, *BASE, "--budget-epochs", "12", *cal, "--out", out, "--resume")
    assert code == 2 and "--early-stop-calibration (the file's content)" in err


# ---- bad input: one line, exit code 2, nothing written or lost ------------------------------------------------
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--budget-epochs", "3"], "--budget-epochs 3 is too small to train one candidate"),
        (
            ["--budget-hours", "0.000001"],
            "--budget-hours 1e-06 is too small to train one candidate",
        ),
        (["--budget-epochs", "8", "--budget-hours", "1"], "give exactly one budget"),
        (["--budget-epochs", "8", "--dataset", "mnist"], "--dataset 'mnist' is invalid"),
        (["--budget-epochs", "8", "--prior", "cifar10"], "--prior 'cifar10' is invalid"),
        (
            ["--budget-epochs", "8", "--checkpoints", "0.5,1.5"],
            "--checkpoints '0.5,1.5' is invalid",
        ),
        (["--budget-epochs", "8", "--workers", "0"], "--workers 0 is invalid"),
        (["--budget-epochs", "8", "--dask-local", "0"], "--dask-local 0 is invalid"),
        (["--budget-epochs", "8", "--set", "lr=fast"], "lr=fast"),
        (
            ["--budget-epochs", "8", "--early-stop-extrapolator", "nope"],
            "--early-stop-extrapolator 'nope' is invalid",
        ),
        (
            ["--budget-epochs", "8", "--early-stop-fit", "--early-stop-min-completed", "2"],
            "--early-stop-min-completed 2 is invalid with --early-stop-fit",
        ),
        (
            ["--budget-epochs", "8", "--early-stop-calibration", "datasets/nb201-fmnist-mini.h5"],
            "has no 4-epoch valid_acc curves for fashion-mnist",
        ),
        (
            ["--budget-epochs", "8", "--early-stop", "median", "--early-stop-calibration", "x.h5"],
            "--early-stop median has none; accepted: --early-stop domhan",
        ),
        (
            ["--budget-epochs", "8", "--early-stop-calibration", "missing.h5"],
            "--early-stop-calibration 'missing.h5' does not exist",
        ),
        (
            ["--budget-epochs", "8", "--dask-scheduler", "tcp://127.0.0.1:1"],
            "cannot reach the Dask scheduler at tcp://127.0.0.1:1",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, args, expected):
    out = tmp_path / "s"
    code, _, err = nasscout(capsys, *BASE, *args, "--out", out)
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_dataset_not_available_offline_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NASSCOUT_OFFLINE", "1")
    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path / "home"))
    out = tmp_path / "s"
    args = ["search", "--dataset", "cifar100", "--budget-epochs", "200", "--prior", "none"]
    code, _, err = nasscout(capsys, *args, "--out", out)
    assert code == 2 and "NASSCOUT_OFFLINE=1 forbids downloading" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_existing_out_and_resume_mismatches_are_refused_without_touching_it(
    finished, capsys, tmp_path
):
    out, _ = finished
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", out)
    assert code == 2 and "exists; add --resume" in err and len(err.strip().splitlines()) == 1
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", out, "--resume", "--seed", "1")
    assert code == 2 and "cannot resume: --seed 1 differs from the search's 0" in err
    code, _, err = nasscout(capsys, *BASE, "--budget-epochs", "20", "--out", out, "--resume")
    assert code == 2 and "--budget-epochs 20 differs" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", empty, "--resume")
    assert code == 2 and "holds no search" in err


@pytest.mark.parametrize("cut", ["segment", "decision", "ask"])
def test_a_journal_cut_after_any_event_resumes_to_the_same_search(finished, tmp_path, capsys, cut):
    """What a kill leaves between two journal lines (a segment without its decision, a stop without its
    tell, a candidate asked but not submitted): the resumed search finishes it exactly as the original."""
    import shutil

    ref, _ = finished
    out = tmp_path / "cut"
    shutil.copytree(ref, out)
    lines = (out / "events.jsonl").read_text().splitlines(keepends=True)
    want = {"segment": '"status": "paused"', "decision": '"stop": true', "ask": '"e": "ask"'}[cut]
    hits = [
        i
        for i, line in enumerate(lines)
        if want in line and (cut != "segment" or '"e": "seg' in line)
    ]
    at = hits[len(hits) // 2]  # a cut in the middle of the search
    (out / "events.jsonl").write_text("".join(lines[: at + 1]))
    code, _, err = nasscout(capsys, *BASE, *BUDGET, "--out", out, "--resume", "--quiet")
    assert code == 0, err
    assert _trials(out) == _trials(ref)


# ---- your own data: npz:PATH ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_npz(tmp_path_factory) -> Path:
    """A user's data set made of real images: five Fashion-MNIST classes, 700 training and 300 test images."""
    from surrogate.training.data import _fashion_mnist, data_root, prepare_fashion_mnist

    root = prepare_fashion_mnist(data_root())
    x, y = _fashion_mnist(root, train=True)
    xt, yt = _fashion_mnist(root, train=False)
    keep, keept = np.flatnonzero(y < 5)[:700], np.flatnonzero(yt < 5)[:300]
    path = tmp_path_factory.mktemp("own") / "mydata.npz"
    np.savez(
        path, x_train=x[keep, :, :, 0], y_train=y[keep], x_test=xt[keept, :, :, 0], y_test=yt[keept]
    )
    return path


OWN_SETS = [
    "--set",
    "n_train=400",
    "--set",
    "n_valid=200",
    "--set",
    "n_test=200",
    "--set",
    "batch_size=64",
]


def test_a_search_on_your_own_npz_images(own_npz, tmp_path, capsys):
    from surrogate.training.runstore import file_settings

    out = tmp_path / "own"
    args = [
        "search",
        "--dataset",
        f"npz:{own_npz}",
        "--epochs",
        "3",
        *OWN_SETS,
        "--budget-epochs",
        "6",
    ]
    code, stdout, err = nasscout(capsys, *args, "--out", out, "--quiet", "--json")
    assert code == 0, err
    brief = json.loads(stdout)
    assert brief["dataset"] == f"npz:{own_npz.resolve()}" and brief["best"] is not None
    settings = json.loads((out / "runs.runs" / "settings.json").read_text())
    assert settings["dataset"] == brief["dataset"] and len(settings["data_sha256"]) == 64
    assert file_settings(out / "runs.h5")["data_sha256"] == settings["data_sha256"]
    # other contents under the same path are another data set: the search refuses to mix their runs
    x = dict(np.load(own_npz))
    x["y_train"] = x["y_train"][::-1].copy()
    moved = tmp_path / "moved.npz"
    os.replace(own_npz, moved)
    try:
        np.savez(own_npz, **x)
        code, _, err = nasscout(capsys, *args, "--out", out, "--resume", "--quiet")
    finally:
        os.replace(moved, own_npz)
    assert code == 2 and "refusing to mix them" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p, "does not exist"),
        (lambda p: (np.savez(p, x_train=np.zeros((4, 8, 8), np.uint8)), p)[1], "lacks y_train"),
        (
            lambda p: (
                np.savez(
                    p,
                    x_train=np.zeros((4, 8, 6), np.uint8),
                    y_train=np.arange(4),
                    x_test=np.zeros((2, 8, 6), np.uint8),
                    y_test=np.arange(2),
                ),
                p,
            )[1],
            "x_train has shape (4, 8, 6, 1)",
        ),  # fmt: skip
        (lambda p: (p.write_bytes(b"not a zip"), p)[1], "is not a readable .npz"),
    ],
)
def test_bad_npz_files_are_one_line(capsys, tmp_path, make, expected):
    path = make(tmp_path / "bad.npz")
    out = tmp_path / "s"
    code, _, err = nasscout(
        capsys, "search", "--dataset", f"npz:{path}", "--budget-epochs", "40", "--out", out
    )
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_preset_larger_than_your_data_says_how_to_fit_it(own_npz, capsys, tmp_path):
    code, _, err = nasscout(
        capsys,
        "search",
        "--dataset",
        f"npz:{own_npz}",
        "--budget-epochs",
        "40",
        "--out",
        tmp_path / "s",
    )
    assert code == 2 and "exceed the 700 training images" in err and "--set n_train=" in err


def test_hours_budget_and_two_local_workers(tmp_path, capsys):
    out = tmp_path / "hours"
    args = [*BASE, "--budget-hours", "0.004", "--workers", "2", "--out", out, "--quiet", "--json"]
    code, stdout, err = nasscout(capsys, *args)
    assert code == 0, err
    s = json.loads(stdout)
    b = s["budget"]
    assert s["where"] == "2 local processes" and b["unit"] == "hours" and b["total"] == 0.004
    assert b["spent"] == pytest.approx((b["spent_train_s"] + b["screen_s"]) / 3600)
    assert 0 < b["spent"] and s["n_trials"] >= 2
    meta = json.loads((out / "meta.json").read_text())
    assert meta["full_training_s"] > 0 and meta["where"]["workers"] == 2


def test_the_live_view_says_what_trains_the_best_and_what_was_stopped(finished):
    import io

    from strategies.search.live import LiveView, status_line
    from strategies.search.options import SearchOptions, check_options
    from strategies.search.state import EventLog, SearchState

    out, _ = finished
    opts = check_options(SearchOptions(dataset="fashion-mnist", budget_epochs=16, epochs=T))
    state = SearchState(T)
    events = EventLog(out).read()
    for ev in events[: len(events) // 2]:
        state.apply(ev)
    line = status_line(state, opts)
    assert line.startswith(f"budget {state.spent_epochs}/16 epochs")
    best = state.best()
    assert best is None or f"best {best.valid_acc:.2f}% (#{best.trial}" in line
    assert f"stopped {sum(t.status == 'stopped' for t in state.trials.values())}" in line
    stream = io.StringIO()
    LiveView(opts, stream=stream)("trial 3 (cell 7): stopped at epoch 2: P(...)", state)
    assert stream.getvalue().endswith("trial 3 (cell 7): stopped at epoch 2: P(...)\n")
