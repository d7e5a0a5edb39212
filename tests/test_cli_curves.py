"""`nasscout curves eval` end to end on real curves: JSON fields, files, the slow subset, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strategies.cli.main import main
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {
    "extrapolator", "cutoff", "n_curves", "mae", "loglik", "coverage90", "spearman",
    "time_per_curve_s", "cutoff_epoch", "target", "fit_s", "on", "source", "axis",
}  # fmt: skip
QUICK = [
    "--option",
    "lcsvr.n_hypers=6",
]  # the search's own default is exercised by the contract test


def run(capsys, *args):
    """(exit code, stdout, stderr) of one in-process CLI call."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasscout: error:"), err
    assert needle in lines[0], lines[0]


def test_eval_json_and_files_through_a_real_process(tmp_path):
    out = tmp_path / "ev"
    proc = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", "curves", "eval", "--source", "fmnist-mini",
         "--extrapolators", "last,best,lcsvr", "--cutoffs", "0.1,0.5", "--max-curves", "80",
         "--out", str(out), "--json", *QUICK],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["extrapolator"], r["cutoff"]) for r in rows] == [
        ("last", 0.1), ("last", 0.5), ("best", 0.1), ("best", 0.5), ("lcsvr", 0.1), ("lcsvr", 0.5),
    ]  # fmt: skip
    for r in rows:
        assert FIELDS <= set(r)
        assert r["n_curves"] == 80 and r["target"] == 20 and r["axis"] == "epoch"
        assert r["cutoff_epoch"] == {0.1: 2, 0.5: 10}[r["cutoff"]]
        assert 0 < r["mae"] < 10 and np.isfinite(r["loglik"]) and 0 <= r["coverage90"] <= 1
        assert r["time_per_curve_s"] > 0
    # half of a real curve ranks the finals; LcSVR's calibrated interval covers most of them
    by = {(r["extrapolator"], r["cutoff"]): r for r in rows}
    assert all(by[(n, 0.5)]["spearman"] > 0.3 for n in ("last", "best", "lcsvr"))
    assert by[("lcsvr", 0.5)]["coverage90"] >= 0.75
    for f in ("results.csv", "results.txt", "results.json", "meta.json", "predictions.csv",
              "examples.png", "mae_vs_cutoff.png"):  # fmt: skip
        assert (out / f).stat().st_size > 0, f
    assert not list(out.glob(".*.tmp")), "temp files left behind"
    assert json.loads((out / "results.json").read_text()) == rows
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n_curves"] == 80 and meta["folds"] == 5 and meta["cutoff_epochs"] == [2, 10]
    import pandas as pd

    preds = pd.read_csv(out / "predictions.csv")
    assert (
        len(preds) == 80 * 6
        and (preds.lo <= preds["mean"]).all()
        and (preds["mean"] <= preds.hi).all()
    )
    assert "fmnist-mini: 80 curves" in (out / "results.txt").read_text()


def test_same_seed_same_numbers_and_text_table(capsys):
    args = ["curves", "eval", "--source", "fmnist-mini", "--extrapolators", "last,best,sotle",
            "--cutoffs", "0.25", "--seed", "3", "--max-curves", "60"]  # fmt: skip
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    code2, out2, _ = run(capsys, *args, "--json")
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in rows]  # noqa: E731
    assert strip(json.loads(out)) == strip(json.loads(out2))
    code, text, _ = run(capsys, *args)
    assert code == 0 and "sotle" in text and "spearman" in text and "wall time" in text


def test_slow_extrapolators_run_on_a_subset(capsys, monkeypatch):
    """The subset mechanism (for mcmc) on an extrapolator available in every checkout."""
    import predictors.curves.evaluation as ev

    monkeypatch.setattr(ev, "SLOW", ("lcsvr",))
    code, out, err = run(
        capsys, "curves", "eval", "--source", "fmnist-mini", "--extrapolators", "lcsvr,last",
        "--cutoffs", "0.5", "--max-curves", "60", "--mcmc-curves", "12", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, err
    rows = {(r["extrapolator"], r["on"]): r for r in json.loads(out)}
    assert set(rows) == {("last", "all"), ("lcsvr", "subset"), ("last", "subset")}
    assert rows[("lcsvr", "subset")]["n_curves"] == 12 == rows[("last", "subset")]["n_curves"]
    assert rows[("last", "all")]["n_curves"] == 60


@pytest.mark.skipif(not (SHARED_DATA / "nats_tss_sample").is_dir(), reason="NATS sample not found")
def test_nats_sample_runs(capsys):
    code, out, err = run(
        capsys, "curves", "eval", "--source", "nats-sample", "--extrapolators", "last,sotle",
        "--cutoffs", "0.1,0.5", "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert all(r["n_curves"] == 27 and r["target"] == 200 for r in rows)
    assert "27 curves of 3 cells x 200 epochs" in err  # the log names the source


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--source", "nope"], "unknown curve source 'nope'; accepted: fmnist-mini"),
        (["--extrapolators", "last,nope"], "unknown extrapolator 'nope'; accepted:"),
        (["--cutoffs", "0.1,1.5"], "cutoff 1.5 is invalid; accepted: fractions in (0, 1)"),
        (["--cutoffs", "0"], "cutoff 0.0 is invalid"),
        (["--cutoffs", "abc"], "cutoff 'abc' is not a number"),
        (["--cutoffs", "0.99"], "at or past the target epoch 20"),
        (["--folds", "1"], "folds = 1 is invalid"),
        (["--extrapolators", "last,last"], "name one twice"),
        (["--option", "lcsvr.bogus=1", "--extrapolators", "lcsvr"], "unknown option 'bogus'"),
    ],
)
def test_bad_input_is_one_line(capsys, args, needle):
    base = {"--source": "fmnist-mini", "--extrapolators": "last", "--cutoffs": "0.5"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    flat = [x for kv in base.items() for x in kv]
    code, _, err = run(capsys, "curves", "eval", *flat, "--max-curves", "20")
    assert_one_line_error(code, err, needle)


def test_list(capsys):
    code, out, _ = run(capsys, "curves", "--list")
    assert code == 0
    names = [ln.split()[0] for ln in out.splitlines()]
    assert {"last", "best", "sotle", "lcsvr", "mcmc", "fast", "pfn"} <= set(names)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "lcdb").is_dir(), reason="LCDB not found")
def test_lcdb_says_its_axis_and_refuses_sotle(capsys):
    code, _, err = run(capsys, "curves", "eval", "--source", "lcdb", "--extrapolators", "sotle")
    assert_one_line_error(
        code, err, "'sotle' needs train_loss, which source 'lcdb' does not record"
    )
    # by default every available extrapolator runs, less those the source cannot feed (with a log line)
    args = ["curves", "eval", "--source", "lcdb", "--cutoffs", "0.5", "--max-curves", "60", *QUICK]
    code, text, err = run(capsys, *args)
    assert code == 0, err
    assert "skipping sotle: source lcdb records no train_loss" in err
    assert "note: the axis is training-set size, not epochs" in text
    code, out, err = run(capsys, *args, "--json")
    rows = json.loads(out)
    assert {r["extrapolator"] for r in rows} >= {"last", "best", "lcsvr"}
    assert "sotle" not in {r["extrapolator"] for r in rows}
    assert all(r["axis"] == "training-set size" and r["cutoff_epoch"] == 8 for r in rows)
