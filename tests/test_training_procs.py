"""Training across processes: a real `kill -9` mid-run and resume, a process pool, a Dask LocalCluster
(with a worker killed mid-training). Each test starts fresh Python processes that import torch, so they are
marked slow; each stays well under a minute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from surrogate.errors import NasscoutError
from tests.test_training import CELL, FMNIST, TINY, accuracy_curves, run, tiny

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (FMNIST / "train-images-idx3-ubyte.gz").exists()
        and not Path("/usr/share/datasets/fashion-mnist").exists(),
        reason="Fashion-MNIST not available offline",
    ),
]
EPOCHS = 8


def checkpoint_epoch(path: Path) -> int:
    import torch

    try:
        return int(torch.load(path, weights_only=True)["epoch"])
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


def wait_for_checkpoint(path: Path, epoch: int, timeout: float = 90.0) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and (k := checkpoint_epoch(path)) >= epoch:
            return k
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of epoch {epoch} after {timeout} s")


def spawned_children() -> list:
    """Dask's worker processes (started with multiprocessing's spawn)."""
    import psutil

    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "spawn_main" in " ".join(p.cmdline())
    ]


def pool_workers() -> list:
    """The process pool's workers: the children of the forkserver (not the server itself)."""
    import psutil

    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    return [c for s in servers for c in s.children()]


@pytest.fixture(scope="module")
def reference():
    return run(epochs=EPOCHS)


def test_kill_9_mid_training_then_rerun_gives_the_uninterrupted_curve(tmp_path, reference):
    from surrogate.training.executors import run_task

    store = tmp_path / "k.h5"
    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
    cmd = [
        sys.executable, "-m", "strategies.cli.main", "train", "--arch", str(CELL),
        "--dataset", "fashion-mnist", "--epochs", str(EPOCHS), "--store", str(store), *sets,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = store.with_suffix(".runs") / f"c{CELL:05d}-s0" / "checkpoint.pt"
    try:
        wait_for_checkpoint(ckpt, 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    done = checkpoint_epoch(ckpt)
    assert 2 <= done < EPOCHS
    assert not (ckpt.parent / "result.json").exists()
    result = run_task(str(store), CELL, 0)  # the rerun resumes from the last completed epoch
    assert result["resumed_at"] == [done]
    assert accuracy_curves(result) == accuracy_curves(reference)  # bit for bit
    assert (
        not ckpt.exists()
        and json.loads((ckpt.parent / "result.json").read_text())["status"] == "ok"
    )


def test_process_pool_trains_in_parallel_and_survives_a_dead_worker(tmp_path, reference):
    from surrogate.training.executors import train_many
    from surrogate.training.runstore import RunStore

    store = tmp_path / "p.h5"
    RunStore(store, "fashion-mnist", tiny(EPOCHS))
    ckpt = store.with_suffix(".runs") / f"c{CELL:05d}-s0" / "checkpoint.pt"
    killed: list[int] = []

    def killer():
        try:
            wait_for_checkpoint(ckpt, 2)
        except AssertionError:
            return
        for p in pool_workers():
            killed.append(p.pid)
            p.kill()

    t = threading.Thread(target=killer)
    t.start()
    results = train_many(store, [(CELL, 0), (6111, 0)], workers=2)
    t.join()
    assert killed, "no worker was killed"
    by_cell = {r["cell"]: r for r in results}
    assert set(by_cell) == {CELL, 6111}
    assert accuracy_curves(by_cell[CELL]) == accuracy_curves(reference)
    assert by_cell[CELL]["resumed_at"] and by_cell[CELL]["resumed_at"][0] >= 2


def test_dask_local_cluster_retries_a_dead_worker_and_resumes(tmp_path, reference):
    from surrogate.training.executors import train_many
    from surrogate.training.runstore import RunStore

    store = tmp_path / "d.h5"
    RunStore(store, "fashion-mnist", tiny(EPOCHS))
    ckpt = store.with_suffix(".runs") / f"c{CELL:05d}-s0" / "checkpoint.pt"
    killed: list[int] = []

    def killer():
        try:
            wait_for_checkpoint(ckpt, 2)
        except AssertionError:
            return
        for p in spawned_children():  # the LocalCluster's worker processes
            killed.append(p.pid)
            p.kill()

    t = threading.Thread(target=killer)
    t.start()
    results = train_many(store, [(CELL, 0)], dask_local=1)
    t.join()
    assert killed, "no worker was killed"
    (r,) = results
    assert r["resumed_at"] and r["resumed_at"][0] >= 2
    assert accuracy_curves(r) == accuracy_curves(reference)


def test_unreachable_dask_scheduler_fails_fast():
    from surrogate.training.executors import make_executor

    t0 = time.perf_counter()
    with pytest.raises(NasscoutError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with make_executor(dask_scheduler="tcp://127.0.0.1:9"):
            pass
    assert time.perf_counter() - t0 < 15
    with pytest.raises(NasscoutError, match="scheduler address 'localhost' is invalid"):
        with make_executor(dask_scheduler="localhost"):
            pass
    assert os.environ.get("NASSCOUT_OFFLINE") == "1"
