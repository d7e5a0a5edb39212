"""Where trials run: the simulated clock, a local process pool and Dask give the same values; real training
runs two cells at a time; dead workers and killed runs lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from strategies.backends import DaskBackend, PoolBackend, SimulatedBackend, make_backend
from strategies.runner import Runner
from surrogate.errors import NasscoutError

CELL = 1000


def _values(traj) -> list[tuple]:
    """What a trial yielded, by trial number, without the clocks (which differ between backends)."""
    return sorted(
        (r.trial, r.index, r.observed_acc, r.true_acc, r.cost_s, r.params_m) for r in traj.rows
    )


def _run(bench, backend, **kw):
    return Runner(
        bench, dataset="cifar10", seed=3, n_workers=2, budget_queries=8, backend=backend, **kw
    ).run("rs")


def test_pool_backend_evaluates_exactly_what_the_simulated_clock_does(nb201):
    sim = _run(nb201, SimulatedBackend())
    pool = PoolBackend(2)
    try:
        real = _run(nb201, pool, spec="nb201")
    finally:
        pool.close()
    assert _values(real) == _values(sim)
    t = real.column("sim_time_s")
    assert np.all(np.diff(t) >= 0) and t[-1] < 600  # a wall clock: seconds, not simulated hours


@pytest.mark.slow
def test_dask_backend_evaluates_exactly_what_the_simulated_clock_does(nb201):
    sim = _run(nb201, SimulatedBackend(), observe="mean")
    dask = DaskBackend(2, local=2)
    try:
        real = _run(nb201, dask, spec="nb201", observe="mean")
    finally:
        dask.close()
    assert _values(real) == _values(sim)


def test_backend_options_are_checked():
    with pytest.raises(
        NasscoutError, match="unknown backend 'gpu'; accepted: simulated, local, dask"
    ):
        make_backend("gpu")
    with pytest.raises(NasscoutError, match="need --backend dask"):
        make_backend("local", dask_local=2)
    with pytest.raises(NasscoutError, match="address 'localhost' is invalid"):
        make_backend("dask", dask_scheduler="localhost")


# ---- real training -------------------------------------------------------------------------------------------
def _tiny_store(tmp_path: Path, epochs: int = 2, **more) -> tuple[str, object]:
    """A run store with a tiny recipe and one trained cell (the runner needs a best cell for regret)."""
    from surrogate.training.benchmark import TrainingBenchmark
    from surrogate.training.presets import get_preset

    tiny = {"n_train": 256, "n_valid": 128, "n_test": 128, "C": 4, "N": 1, "image_size": 8, **more}
    preset = get_preset("cpu-mini", tiny, epochs=epochs)
    store = tmp_path / "store.h5"
    bench = TrainingBenchmark("fashion-mnist", preset, store=store)
    bench.query([CELL], dataset="fashion-mnist")
    return f"train:fashion-mnist::{store}", bench


def _results(store: Path) -> list[dict]:
    runs = store.with_suffix(".runs")
    return [json.loads(p.read_text()) for p in sorted(runs.glob("c*/result.json"))]


@pytest.mark.slow
def test_pool_backend_trains_two_cells_at_a_time(tmp_path):
    spec, bench = _tiny_store(tmp_path, epochs=4, n_train=1024)
    from surrogate.registry import load_benchmark

    pool = PoolBackend(2)
    try:
        traj = Runner(
            load_benchmark(spec),
            dataset="fashion-mnist",
            seed=0,
            n_workers=2,
            budget_queries=4,
            backend=pool,
            spec=spec,
        ).run("rs")
    finally:
        pool.close()
    assert len(traj) == 4 and np.all(traj.column("cost_s") > 0)
    new = [r for r in _results(Path(bench.store.path)) if r["cell"] != CELL]
    assert len(new) >= 3 and len({r["pid"] for r in new}) == 2  # two worker processes trained
    spans = sorted((r["finished_unix"] - r["train_time_s"], r["finished_unix"]) for r in new)
    # a training started before the previous one finished: they ran at the same time
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def _nasscout(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "strategies.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(predicate, timeout: float = 240.0) -> None:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.2)


def _journal_rows(out: Path) -> list[dict]:
    path = out / "journal.jsonl"
    if not path.exists():
        return []
    lines = path.read_text().split("\n")[:-1]
    return [json.loads(x) for x in lines if '"trial"' in x]


@pytest.mark.slow
def test_kill_9_of_a_real_search_then_resume_loses_no_training(tmp_path):
    spec, bench = _tiny_store(tmp_path, epochs=3, n_train=768)
    out = tmp_path / "run"
    args = ["run", "--benchmark", spec, "--dataset", "fashion-mnist", "--strategy", "rs"]
    args += ["--budget-queries", "6", "--workers", "2", "--out", str(out), "-q"]
    proc = _nasscout(*args)
    _wait_for(lambda: len(_journal_rows(out)) >= 2 or proc.poll() is not None)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {(r["trial"], r["index"]): r for r in _journal_rows(out)}
    assert 2 <= len(before) < 6
    stamps = {r["cell"]: r["finished_unix"] for r in _results(Path(bench.store.path))}
    done = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *args, "--resume"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    after = {(r["trial"], r["index"]): r for r in _journal_rows(out)}
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())  # nothing redone
    again = {r["cell"]: r["finished_unix"] for r in _results(Path(bench.store.path))}
    assert all(again[c] == t for c, t in stamps.items())  # no finished training trained again
    assert sum(1 for _ in open(out / "results.csv")) == 7


@pytest.mark.slow
def test_a_worker_killed_mid_run_gives_one_line_and_resume_finishes(tmp_path):
    spec, bench = _tiny_store(tmp_path, epochs=12, n_train=512)
    out = tmp_path / "run"
    args = ["run", "--benchmark", spec, "--dataset", "fashion-mnist", "--strategy", "rs"]
    args += ["--budget-queries", "3", "--workers", "2", "--out", str(out), "-q"]
    proc = _nasscout(*args)
    runs = Path(bench.store.path).with_suffix(".runs")

    def workers() -> list[psutil.Process]:
        """The pool's worker processes (children of the forkserver), once a training is under way."""
        if not any(runs.glob("c*/checkpoint.pt")):
            return []
        servers = [
            k for k in psutil.Process(proc.pid).children() if "forkserver" in " ".join(k.cmdline())
        ]
        return [w for s in servers for w in s.children()]

    _wait_for(lambda: workers() or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    workers()[0].send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = [x for x in err.splitlines() if "error" in x]  # the others say what is being trained
    assert len(lines) == 1 and "worker died" in lines[0] and "--resume" in lines[0], err
    assert "Traceback" not in err
    done = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *args, "--resume"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len(_journal_rows(out)) == 3


def test_unreachable_scheduler_is_one_line_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    t0 = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "strategies.cli.main",
            "run",
            "--strategy",
            "rs",
            "--budget-queries",
            "5",
        ]
        + ["--dask-scheduler", "tcp://127.0.0.1:9", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and time.monotonic() - t0 < 60
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
