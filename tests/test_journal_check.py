"""Journal lines that do not belong to a run are named and left out; the report says what data it stands on.

Every test edits the journal or results of a real `nasscout run` and goes through the real CLI."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_calls import nasscout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies.cli.main import main
from strategies.journal import parse_journal
from strategies.journal_check import RunFacts, check_lines
from strategies.results import COLUMNS, results_text

ROOT = Path(__file__).resolve().parents[1]
WALL = COLUMNS.index("wall_time_s")


@pytest.fixture(scope="module")
def run_dir(nb201, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("jc") / "run"
    args = [
        "run",
        "--strategy",
        "rs,rea",
        "--seeds",
        "3",
        "--budget-queries",
        "60",
        "--jobs",
        "1",
        "-q",
    ]
    try:
        main([*args, "--out", str(out)])
    except SystemExit as exc:
        assert exc.code == 0
    return out


def _copy(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def _lines(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "journal.jsonl").read_text().splitlines()]


def _write(d: Path, rows: list[dict]) -> None:
    (d / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _csv(d: Path) -> list[dict]:
    with open(d / "results.csv") as fh:
        return list(csv.DictReader(fh))


def _without_wall(path: Path) -> list[list[str]]:
    return [
        [f for i, f in enumerate(line.split(",")) if i != WALL]
        for line in path.read_text().splitlines()
    ]


def _find(rows: list[dict], strategy: str, seed: int, trial: int) -> dict:
    return next(
        r
        for r in rows
        if r.get("strategy") == strategy and r.get("seed") == seed and r.get("trial") == trial
    )


# ---- bad lines ----------------------------------------------------------------------------------------------------
def test_foreign_impossible_and_conflicting_lines_are_named_and_left_out(run_dir, tmp_path, capsys):
    d = _copy(run_dir, tmp_path / "edited")
    meta = json.loads((d / "meta.json").read_text())
    best = meta["benchmark"]["best_valid_acc"]
    rows = _lines(d)
    original_rs = _find(rows, "rs", 0, 2)
    # the incumbent of rea seed 1 after trial 5 gets a true_acc above the benchmark's best: a negative regret
    edited = _find(rows, "rea", 1, 5)
    edited["true_acc"], edited["observed_acc"] = best + 5.0, 99.9
    foreign_seed = {**_find(rows, "rs", 1, 0), "seed": 7}
    foreign_strategy = {**_find(rows, "rea", 0, 1), "strategy": "bananas"}
    conflict = {**original_rs, "observed_acc": original_rs["observed_acc"] + 1.0}
    _write(d, rows + [foreign_seed, foreign_strategy, conflict])

    code, out, err = nasscout(capsys, "report", d, "--json", "--no-plots")
    assert code == 0, err
    warning = [line for line in err.splitlines() if "left out" in line]
    assert len(warning) == 1 and len(err.splitlines()) == 1
    w = warning[0]
    assert w.startswith("nasscout: warning: left out 4 of ")
    assert "1 impossible value (line" in w and "rea seed 1 trial 5: true_acc" in w
    assert "above the benchmark's best" in w
    assert "1 unknown seed" in w and "rs seed 7 trial 0" in w and "not in the run's seeds 0..2" in w
    assert "1 unknown strategy" in w and "'bananas'" in w
    assert "1 conflicting copy" in w and "rs seed 0 trial 2" in w and "in observed_acc" in w

    results = _csv(d)
    assert len(results) == 2 * 3 * 60 - 1  # the impossible line is out: rea seed 1 has 59 rows
    assert {r["seed"] for r in results} == {"0", "1", "2"}
    assert {r["strategy"] for r in results} == {"rs", "rea"}
    kept = [r for r in results if (r["strategy"], r["seed"], r["trial"]) == ("rs", "0", "2")]
    assert len(kept) == 1 and float(kept[0]["observed_acc"]) == original_rs["observed_acc"]
    assert not any(
        r["strategy"] == "rea" and (r["seed"], r["trial"]) == ("1", "5") for r in results
    )
    assert all(float(r["true_acc"]) <= best for r in results)

    summary = json.loads(out)
    assert set(summary) == {"rs", "rea"}
    rea = summary["rea"]
    assert rea["seeds_incomplete"] == [1] and rea["n_seeds_in_statistics"] == 2
    assert rea["n_seeds"] == 3 and rea["n_seeds_at_50"] == 2
    assert rea["regret_mean_final"] >= 0
    code, text, _ = nasscout(capsys, "report", d, "--no-plots")
    assert "note: rea: seed 1 incomplete (1: 59 of 60 evaluations, not finished)" in text
    assert "note: 4 journal line(s) left out" in text
    assert " 2/3 " in text

    # resume re-evaluates the left-out trial and ignores the rest: the uninterrupted result
    code, _, err = nasscout(capsys, "run", "--out", d, "--resume", "-q")
    assert code == 0 and err.count("left out 4 of") == 1
    assert _without_wall(d / "results.csv") == _without_wall(run_dir / "results.csv")


def test_old_meta_without_benchmark_facts_still_checks_identity(run_dir, tmp_path, capsys):
    d = _copy(run_dir, tmp_path / "old")
    meta = json.loads((d / "meta.json").read_text())
    for key in ("fidelities", "hv_ref", "kind", "space"):
        del meta["benchmark"][key]
    del meta["config"]["seeds"]
    (d / "meta.json").write_text(json.dumps(meta))
    rows = _lines(d)
    high = {**_find(rows, "rs", 0, 3), "trial": 60}  # beyond the budget
    _write(d, rows + [{**_find(rows, "rs", 0, 0), "seed": 3}, high])
    code, out, err = nasscout(capsys, "report", d, "--json", "--no-plots")
    assert code == 0 and "left out 2 of" in err and "trial 60 is outside 0..59" in err
    assert json.loads(out)["rs"]["n_seeds_complete"] == 3


def test_finished_time_budget_searches_with_trial_gaps_are_complete(nb201, tmp_path, capsys):
    """Under a time budget a trial still running when the time is up is dropped: the trial numbers of a
    finished search can have gaps, and that is not damage."""
    d = tmp_path / "time"
    args = [
        "run",
        "--strategy",
        "rs",
        "--seeds",
        "2",
        "--budget-seconds",
        "40000",
        "--workers",
        "16",
    ]
    code, _, err = nasscout(capsys, *args, "--jobs", "1", "-q", "--out", d)
    assert code == 0, err
    trials: dict[int, list[int]] = {}
    for r in _lines(d):
        if "trial" in r:
            trials.setdefault(r["seed"], []).append(r["trial"])
    assert any(max(t) + 1 > len(t) for t in trials.values())  # there are gaps
    code, out, err = nasscout(capsys, "report", d, "--json", "--no-plots")
    assert code == 0 and err == ""
    rs = json.loads(out)["rs"]
    assert rs["n_seeds_complete"] == 2 and rs["seeds_incomplete"] == []


# ---- an interrupted run -------------------------------------------------------------------------------------------
def test_killed_run_is_reported_as_incomplete_naming_what_is_missing(run_dir, tmp_path, capsys):
    out = tmp_path / "killed"
    cmd = [
        sys.executable, "-m", "strategies.cli.main", "run", "--strategy", "rea,rs", "--seeds", "4",
        "--budget-queries", "400", "--jobs", "1", "-q", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # kill inside rea's third seed
        if journal.exists() and journal.read_bytes().count(b"\n") >= 900:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [r for r in _lines_tolerant(journal) if r.get("done")]
    assert [(r["strategy"], r["seed"]) for r in done] == [("rea", 0), ("rea", 1)]

    code, text, err = nasscout(capsys, "report", out, "--no-plots")
    assert code == 0, err
    assert "note: rea: seed 3 missing (no evaluation); seed 2 incomplete (2: " in text
    assert "of 400 evaluations, not finished" in text
    assert "seed 3 missing (no evaluation)" in text
    assert "statistics over its 2 complete seed(s) only" in text
    assert "note: rs: seeds 0,1,2,3 missing (no evaluation)" in text
    code, js, _ = nasscout(capsys, "report", out, "--json", "--no-plots")
    s = json.loads(js)
    assert s["rea"]["seeds_incomplete"] == [2] and s["rea"]["seeds_missing"] == [3]
    assert s["rea"]["n_seeds_complete"] == 2 and s["rea"]["n_seeds_at_200"] == 2
    assert s["rs"]["n_seeds"] == 0 and s["rs"]["seeds_missing"] == [0, 1, 2, 3]
    assert s["rs"]["regret_mean_final"] is None


def _lines_tolerant(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


# ---- missing values -----------------------------------------------------------------------------------------------
def test_missing_values_are_counted_and_kept_out_of_the_statistics(run_dir, tmp_path, capsys):
    d = _copy(run_dir, tmp_path / "nan")
    rows = _lines(d)
    for trial in (3, 4):
        _find(rows, "rs", 2, trial)["true_acc"] = None
    _find(rows, "rs", 2, 9)["observed_acc"] = None
    _write(d, rows)
    code, out, err = nasscout(capsys, "report", d, "--json", "--no-plots")
    assert code == 0 and err == ""
    rs = json.loads(out)["rs"]
    assert rs["rows_with_missing_values"] == 3
    assert rs["missing_values"] == {"observed_acc": 1, "true_acc": 2}
    assert rs["seeds_with_missing_values"] == [2] and rs["n_seeds_in_statistics"] == 2
    assert rs["n_seeds_at_25"] == 2 and rs["statistics_over"] == "complete seeds"
    assert json.loads(out)["rea"]["rows_with_missing_values"] == 0
    # test_acc is empty in every row (NB201 cifar10 has none): not recorded, so not missing
    assert "test_acc" not in rs["missing_values"]
    code, text, _ = nasscout(capsys, "report", d, "--no-plots")
    assert "note: rs: 3 row(s) with missing values (observed_acc 1, true_acc 2) in seed 2" in text

    # results.csv shared without its journal: empty cells, even in an integer column, are counted
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(run_dir / "meta.json", shared / "meta.json")
    lines = (run_dir / "results.csv").read_text().splitlines()
    head = lines[0].split(",")
    for n, col in ((5, "true_acc"), (70, "index"), (200, "cost_s")):
        cells = lines[n].split(",")
        cells[head.index(col)] = ""
        lines[n] = ",".join(cells)
    (shared / "results.csv").write_text("\n".join(lines) + "\n")
    code, out, err = nasscout(capsys, "report", shared, "--json", "--no-plots")
    assert code == 0, err
    s = json.loads(out)
    assert s["rs"]["rows_with_missing_values"] == 2 and s["rea"]["rows_with_missing_values"] == 1
    assert s["rs"]["missing_values"] == {"index": 1, "true_acc": 1}
    assert s["rs"]["n_seeds_in_statistics"] == 1 and s["rea"]["n_seeds_in_statistics"] == 2


# ---- meta.json deleted --------------------------------------------------------------------------------------------
def test_resume_without_meta_json_says_how_to_go_on_and_rebuild_checks_the_options(
    run_dir, tmp_path, capsys
):
    d = _copy(run_dir, tmp_path / "nometa")
    (d / "meta.json").unlink()
    (d / "results.csv").unlink()
    for args in (
        ["run", "--out", d, "--resume"],
        ["run", "--strategy", "rs", "--out", d],
        ["report", d],
    ):
        code, out, err = nasscout(capsys, *args)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert "meta.json is missing" in err and "Traceback" not in err
        assert (
            "the journal (360 evaluations of rs,rea, seeds 0..2, up to 60 per search) is intact"
            in err
        )
        assert (
            f"nasscout run --out {d} --resume --rebuild-meta --strategy rs,rea --first-seed 0 --seeds 3"
            in err
        )
        assert "cannot be recovered" in err
    given = ["run", "--out", d, "--resume", "--rebuild-meta", "--strategy", "rs,rea", "-q"]
    wrong = {  # options that are not the run's are refused, naming the misfit; nothing is written
        ("--seeds", "2", "--budget-queries", "60"): "seed 2 is not in the run's seeds 0..1",
        ("--seeds", "3", "--budget-queries", "50"): "trial 50 is outside 0..49",
        (
            "--seeds",
            "3",
            "--budget-queries",
            "60",
            "--observe",
            "mean",
        ): "trial 1 of rs seed 0 is not what",
    }
    for extra, message in wrong.items():
        code, _, err = nasscout(capsys, *given, *extra)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (d / "meta.json").exists()
    code, _, err = nasscout(capsys, *given, "--seeds", "3", "--budget-queries", "60")
    assert code == 0, err
    assert _without_wall(d / "results.csv") == _without_wall(run_dir / "results.csv")
    meta = json.loads((d / "meta.json").read_text())
    assert "reproduced all 360 journaled evaluations" in meta["rebuilt"]["note"]
    assert meta["created_utc"] is None
    code, out, _ = nasscout(capsys, "report", d, "--json", "--no-plots")
    assert code == 0 and json.loads(out)["rea"]["n_seeds_complete"] == 3
    code, _, err = nasscout(capsys, *given, "--seeds", "3")
    assert code == 2 and "exists; resume without --rebuild-meta" in err


# ---- property: any bytes ------------------------------------------------------------------------------------------
META = {
    "config": {
        "strategies": ["rs", "rea"],
        "seeds": [0, 1, 2],
        "budget_queries": 60,
        "benchmark_name": "nb201",
        "dataset": "cifar10",
    },
    "benchmark": {
        "kind": "tabular",
        "space": "nb201",
        "fidelities": [12, 200],
        "top_fidelity": 200,
        "best_valid_acc": 91.6,
        "hv_ref": [10.0, 1.6],
    },
}
OLD_META = {"config": {"strategies": ["rs"], "benchmark_name": "nb201", "dataset": "cifar10"}}
VALID = {
    "strategy": "rs", "seed": 0, "trial": 0, "index": 5, "fidelity": 200, "observed_acc": 80.0,
    "true_acc": 80.0, "test_acc": None, "cost_s": 1.0, "sim_time_s": 1.0, "wall_time_s": 0.1,
    "params_m": 0.5, "latency_s": 0.01, "train_time_s": 1.0, "flops_m": 10.0,
}  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
lines_like_rows = st.builds(
    lambda changes: json.dumps({**VALID, **changes}).encode(),
    st.dictionaries(st.sampled_from([*VALID, "done", "rows"]), json_values, max_size=4),
)


def _check_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(data)
    lines = parse_journal(path)
    for meta in (META, OLD_META):
        checked = check_lines(lines, meta)
        facts = RunFacts.from_meta(meta)
        kept = [r for rows in checked.contents.rows.values() for r in rows.values()]
        # every readable evaluation is either kept or left out (and named); a kept row obeys the run's facts
        left = sum(x.trial is not None for x in checked.left_out)
        assert len(kept) + left == len(lines.evaluations)
        for r in kept:
            assert r.strategy in facts.strategies and r.seed in facts.seeds
            assert 0 <= r.trial and (facts.budget_queries is None or r.trial < facts.budget_queries)
            assert not (r.true_acc > 91.6 + 1e-3) or meta is OLD_META
            assert not any(math.isinf(v) for v in r[5:])
        warning = checked.warning()
        assert warning is None or "\n" not in warning
        results_text(checked.contents, meta)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_any_bytes_never_crash_read_and_check(tmp_path, data):
    _check_never_crashes(tmp_path, data)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(lines_like_rows | st.binary(max_size=30), max_size=8), st.booleans())
def test_any_row_like_lines_never_crash_read_and_check(tmp_path, lines, newline_at_end):
    data = b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    _check_never_crashes(tmp_path, data)
