"""`nasscout run` and `nasscout report` as a user meets them: output, files, bad input, kill -9 and resume."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_calls import nasscout

from strategies.cli.main import main
from strategies.registry import STRATEGIES
from strategies.results import COLUMNS, load_results

ROOT = Path(__file__).resolve().parents[1]
WALL = COLUMNS.index("wall_time_s")


def _without_wall(path: Path) -> list[list[str]]:
    return [
        [f for i, f in enumerate(line.split(",")) if i != WALL]
        for line in path.read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def small_run(nb201, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main_ok(
        "run", "--strategy", "rs,rea", "--seeds", "3", "--budget-queries", "60", "--jobs", "1", "-q",
        "--out", out,
    )  # fmt: skip
    assert code == 0
    return out


def main_ok(*args) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code
    return 0


def test_list_strategies(capsys):
    code, out, _ = nasscout(capsys, "run", "--list-strategies")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(STRATEGIES)
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # every one has a summary


def test_run_writes_results_and_meta(small_run):
    header = (small_run / "results.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    meta = json.loads((small_run / "meta.json").read_text())
    assert meta["config"]["strategies"] == ["rs", "rea"] and meta["config"]["seeds"] == [0, 1, 2]
    assert meta["command_line"][:2] == ["nasscout", "run"] or meta["command_line"]
    assert set(meta["versions"]) == {"nasscout", "numpy", "python"}
    df, _ = load_results(small_run)
    assert len(df) == 2 * 3 * 60


def test_same_seed_same_file_except_wall_time(small_run, tmp_path, capsys):
    again = tmp_path / "again"
    code, _, _ = nasscout(
        capsys,
        "run",
        "--strategy",
        "rs,rea",
        "--seeds",
        "3",
        "--budget-queries",
        "60",
        "--jobs",
        "2",
        "-q",
        "--out",
        again,
    )
    assert code == 0
    assert _without_wall(again / "results.csv") == _without_wall(small_run / "results.csv")


def test_report_table_json_and_plots(small_run, capsys):
    code, out, _ = nasscout(capsys, "report", small_run)
    assert code == 0
    assert "validation regret" in out and "rs " in out and "rea " in out
    assert "test accuracy: not recorded by nb201 for cifar10" in out
    for name in ("regret_vs_queries.png", "regret_vs_time.png"):
        png = small_run / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    code, out, _ = nasscout(capsys, "report", small_run, "--json", "--no-plots")
    data = json.loads(out)
    assert list(data) == ["rs", "rea"]
    for key in (
        "regret_mean_at_25", "regret_mean_at_50", "regret_mean_at_100", "regret_mean_at_200",
        "regret_ci95_at_100", "regret_mean_final", "test_acc_mean_final", "median_queries_to_optimum",
        "n_seeds",
    ):  # fmt: skip
        assert key in data["rea"]
    assert data["rea"]["n_seeds"] == 3
    assert data["rea"]["regret_mean_at_100"] is None  # 60 queries only: nobody reached 100
    assert data["rea"]["regret_mean_final"] == data["rea"]["regret_mean_final"] >= 0
    assert data["rea"]["test_acc_mean_final"] is None  # NB201 has no cifar10 test accuracy


def test_report_has_test_accuracy_and_time_budgets(nb201, tmp_path, capsys):
    out = tmp_path / "c100"
    code, _, err = nasscout(
        capsys, "run", "--dataset", "cifar-100", "--strategy", "rea", "--seeds", "2",
        "--budget-seconds", "200000", "--workers", "4", "--jobs", "1", "-q", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    df, meta = load_results(out)
    assert meta["config"]["dataset"] == "cifar100" and meta["config"]["budget_queries"] is None
    assert df["sim_time_s"].max() <= 200_000 and df["test_acc"].notna().all()
    code, text, _ = nasscout(capsys, "report", out, "--json", "--no-plots")
    s = json.loads(text)["rea"]
    assert 50 < s["test_acc_mean_final"] < 75


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--strategy", "rea,nope"],
            "unknown strategy 'nope'; accepted: all, or any of rs, rea, evolution",
        ),
        (
            ["--strategy", "rea", "--benchmark", "nb999"],
            "unknown benchmark 'nb999'; accepted: nb201",
        ),
        (
            ["--strategy", "rea", "--dataset", "mnist"],
            "unknown dataset 'mnist'; accepted: cifar10, cifar100",
        ),
        (
            ["--strategy", "rea", "--budget-queries", "0"],
            "--budget-queries 0 is invalid; accepted: an integer 1..31,250",
        ),
        (["--strategy", "rea", "--budget-queries", "100000"], "--budget-queries 100000 is invalid"),
        (["--strategy", "rea", "--budget-seconds", "-5"], "--budget-seconds -5.0 is invalid"),
        (["--strategy", "rea", "--budget-seconds", "1e15"], "at most"),
        (["--strategy", "rea", "--seeds", "0"], "--seeds 0 is invalid"),
        (["--strategy", "rea", "--workers", "0"], "--workers 0 is invalid"),
        (["--strategy", "rea", "--jobs", "0"], "--jobs 0 is invalid"),
        ([], "no --strategy given"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(nb201, tmp_path, capsys, args, message):
    out = tmp_path / "x"
    code, stdout, err = nasscout(capsys, "run", *args, "--out", out, "-q")
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not (out / "meta.json").exists()


def test_missing_out_and_unwritable_directories(nb201, tmp_path, capsys):
    code, _, err = nasscout(capsys, "run", "--strategy", "rs")
    assert code == 2 and "no --out given" in err
    afile = tmp_path / "file"
    afile.write_text("keep me")
    for out in (afile, afile / "sub", Path("/proc/nasscout-test-run")):
        code, _, err = nasscout(
            capsys, "run", "--strategy", "rs", "--budget-queries", "5", "-q", "--out", out
        )
        assert code == 2 and err.count("\n") == 1, err
        assert str(out) in err
    assert afile.read_text() == "keep me"


def test_existing_run_is_never_overwritten(small_run, capsys):
    before = {p.name: p.read_bytes() for p in small_run.iterdir() if p.is_file()}
    code, _, err = nasscout(capsys, "run", "--strategy", "rs", "--out", small_run, "-q")
    assert code == 2 and "already holds a run" in err and "--resume" in err
    code, _, err = nasscout(capsys, "run", "--seeds", "5", "--out", small_run, "--resume", "-q")
    assert code == 2 and "--seeds 5 differs from the run's 3" in err
    after = {
        p.name: p.read_bytes() for p in small_run.iterdir() if p.is_file() and p.name in before
    }
    assert after == before


def test_resume_of_nothing(tmp_path, capsys):
    code, _, err = nasscout(capsys, "run", "--out", tmp_path / "none", "--resume")
    assert code == 2 and "nothing to resume" in err


def test_report_recovers_a_truncated_results_file(small_run, tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "meta.json").write_bytes((small_run / "meta.json").read_bytes())
    full = (small_run / "results.csv").read_bytes()
    (shared / "results.csv").write_bytes(
        full[: len(full) - 40]
    )  # cut inside the last row, no journal
    df, _ = load_results(shared)
    assert len(df) == 2 * 3 * 60 - 1
    code, out, _ = nasscout(capsys, "report", shared, "--json", "--no-plots")
    assert code == 0 and json.loads(out)["rea"]["n_seeds"] == 3
    code, _, err = nasscout(capsys, "report", tmp_path / "nowhere")
    assert code == 2 and "does not exist" in err


def test_truncated_journal_resumes_to_the_full_result(small_run, tmp_path, capsys):
    d = tmp_path / "cut"
    d.mkdir()
    (d / "meta.json").write_bytes((small_run / "meta.json").read_bytes())
    journal = (small_run / "journal.jsonl").read_bytes()
    (d / "journal.jsonl").write_bytes(journal[: len(journal) // 2 + 17])  # mid-row
    code, out, _ = nasscout(
        capsys, "report", d, "--json", "--no-plots"
    )  # partial runs are reportable
    assert code == 0 and json.loads(out)["rs"]["n_seeds"] == 3
    code, _, err = nasscout(
        capsys, "run", "--out", d, "--resume", "-q"
    )  # options come from meta.json
    assert code == 0, err
    assert _without_wall(d / "results.csv") == _without_wall(small_run / "results.csv")


# ---- kill -9 in the middle of a real run --------------------------------------------------------------------------
KILL_ARGS = ["--strategy", "rea,rs", "--seeds", "8", "--budget-queries", "1000", "-q"]


def _start(out: Path, jobs: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "strategies.cli.main",
        "run",
        *KILL_ARGS,
        "--jobs",
        str(jobs),
        "--out",
        str(out),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_mid_run(proc: subprocess.Popen, journal: Path, lines: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must die with it
    proc.wait()
    return journal.read_bytes().count(b"\n")


def _lock_free(out: Path, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fd = os.open(out / ".lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            os.close(fd)
    return False


@pytest.fixture(scope="module")
def uninterrupted(nb201, tmp_path_factory) -> list[list[str]]:
    out = tmp_path_factory.mktemp("kill") / "ref"
    assert main_ok("run", *KILL_ARGS, "--jobs", "1", "--out", out) == 0
    return _without_wall(out / "results.csv")


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_kill_9_then_resume_gives_the_uninterrupted_result(uninterrupted, tmp_path, capsys, jobs):
    out = tmp_path / "killed"
    total = 2 * 8 * 1000
    proc = _start(out, jobs)
    done = _kill_mid_run(proc, out / "journal.jsonl", lines=total // 4)
    assert done < total and not (out / "results.csv").exists()
    assert _lock_free(out), "workers outlived their killed parent"
    code, _, err = nasscout(capsys, "run", "--out", out, "--resume", "-q", "--jobs", str(jobs))
    assert code == 0, err
    assert _without_wall(out / "results.csv") == uninterrupted  # nothing lost, nothing twice
    rows = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    keys = [(r["strategy"], r["seed"], r["trial"]) for r in rows if "trial" in r]
    assert len(keys) == len(set(keys)) == total


def test_report_of_a_read_only_run_builds_the_table_in_memory(small_run, capsys, monkeypatch):
    import strategies.results as results

    def refuse(path, text):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(
        results, "atomic_write", refuse
    )  # root ignores chmod, so refuse the write here
    code, out, err = nasscout(capsys, "report", small_run, "--json", "--no-plots")
    assert code == 0 and "cannot rewrite" in err and "using the journal" in err
    assert json.loads(out)["rs"]["n_seeds"] == 3
