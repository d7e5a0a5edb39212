"""Damage to the benchmark cache is repaired or named in one line, never a traceback.

Fault injection flips 64 bytes at many offsets of the real built NB201 cache; every case must either load
exactly the original content (the bytes were unused) or be detected, logged and rebuilt. A few cases run
through the real CLI with the real rebuild from the public sources; the others use a build step that
restores the pristine file, so the detection and repair path is exercised on dozens of offsets quickly.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from surrogate.atomic import clean_stale_temps
from surrogate.errors import DataError
from surrogate.registry import open_cached
from surrogate.sources import benchmark_cache
from surrogate.store import read_store

HINT = "rebuild it with `nasscout data build nb201`"


@pytest.fixture(scope="module")
def pristine(nb201, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "nb201.h5"
    shutil.copy(nb201.path, path)
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "benchmarks").mkdir(parents=True)
    return tmp_path / "home"


def _flip(path: Path, offset: int, width: int = 64) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + width] = bytes(b ^ 0xFF for b in data[offset : offset + width])
    path.write_bytes(bytes(data))


def _same(a, b) -> bool:
    """Same arrays and attributes (a rebuild differs only in its creation time)."""
    keep = [{k: v for k, v in x.attrs.items() if k != "created_utc"} for x in (a, b)]
    if keep[0] != keep[1] or set(a.arrays) != set(b.arrays):
        return False
    return all(np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True) for k in a.arrays)


def _offsets(size: int) -> list[int]:
    head = list(range(0, 8192, 256))  # the superblock, object headers and B-tree nodes live here
    spread = np.linspace(8192, size - 64, 32).astype(int).tolist()
    return [*head, 1024, *spread]


def test_flipped_bytes_anywhere_are_rebuilt_or_harmless(home, pristine, capsys):
    reference = read_store(pristine)
    cache = benchmark_cache("nb201")
    builds = []

    def restore(path: Path) -> None:
        builds.append(path)
        shutil.copy(pristine, path)

    outcomes = {"rebuilt": 0, "unused bytes": 0}
    for offset in _offsets(pristine.stat().st_size):
        shutil.copy(pristine, cache)
        _flip(cache, offset)
        before = len(builds)
        bench = open_cached("nb201", HINT, restore)
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if len(builds) > before:
            outcomes["rebuilt"] += 1
            assert err.count("\n") == 1 and err.rstrip().endswith("rebuilding it now"), err
        else:
            outcomes["unused bytes"] += 1
            assert err == ""
        assert _same(read_store(bench.path), reference), offset
    assert outcomes["rebuilt"] >= 0.8 * sum(outcomes.values()), outcomes


def test_every_damage_is_a_data_error_when_nothing_can_rebuild(home, pristine):
    cache = benchmark_cache("nb201")
    for offset in _offsets(pristine.stat().st_size)[::3]:
        shutil.copy(pristine, cache)
        _flip(cache, offset)
        try:
            open_cached("nb201", HINT)
        except DataError as exc:
            assert "\n" not in str(exc) and str(exc).endswith(HINT)
    for blob in (b"", b"\x89HDF\r\n\x1a\n", os.urandom(4096), pristine.read_bytes()[:50_000]):
        cache.write_bytes(blob)
        with pytest.raises(DataError, match="nasscout data build nb201"):
            open_cached("nb201", HINT)


def test_a_folder_in_place_of_the_cache_is_named_and_kept(home, pristine):
    cache = benchmark_cache("nb201")
    cache.mkdir()
    (cache / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match=r"is a folder, not a benchmark file; move it away"):
        open_cached("nb201", HINT, lambda p: shutil.copy(pristine, p))
    assert (cache / "keep.txt").read_text() == "mine"


def test_the_same_open_path_serves_any_cached_benchmark(home, pristine, capsys):
    """An imported benchmark (no builder) is named with its own fix; a buildable one is rebuilt."""
    cache = benchmark_cache("nats-tss")
    shutil.copy(pristine, cache)
    _flip(cache, 1024)
    with pytest.raises(DataError, match=r"nats-tss.h5 .*re-import it"):
        open_cached("nats-tss", "re-import it (`nasscout data import nats-tss PATH`)")
    open_cached("nats-tss", "re-import it", lambda p: shutil.copy(pristine, p))
    assert "rebuilding it now" in capsys.readouterr().err


def test_temp_files_of_a_killed_writer_are_removed(home):
    """A real writer killed with SIGKILL mid-write leaves its temp file; the next open removes it."""
    cache = benchmark_cache("nb201")
    code = (
        "import sys, time\n"
        "from surrogate.atomic import atomic_path\n"
        f"with atomic_path({str(cache)!r}) as tmp:\n"
        "    tmp.write_bytes(b'half a benchmark')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert proc.stdout.readline().strip() == "writing"
    temps = list(cache.parent.glob(".nb201.h5.*.tmp"))
    assert len(temps) == 1
    assert clean_stale_temps(cache) == 0  # its writer is alive: kept
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert temps[0].exists()
    with pytest.raises(DataError):
        open_cached("nb201", HINT)  # no builder here: the missing file is named, the temp is gone
    assert not temps[0].exists()


def test_old_style_temp_names_are_removed_once_old(home):
    cache = benchmark_cache("nb201")
    young, old = cache.parent / ".nb201.h5.abcd1234.tmp", cache.parent / ".nb201.h5.wxyz9876.tmp"
    young.write_bytes(b"x")
    old.write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert clean_stale_temps(cache) == 1
    assert young.exists() and not old.exists()


# ---- through the real CLI ------------------------------------------------------------------------------
def _cli(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, NASSCOUT_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


QUERY = ("bench", "query", "nb201", "--arch", "5", "--dataset", "cifar10", "--json")


@pytest.mark.slow
def test_cli_rebuilds_a_damaged_cache_from_the_sources(home, pristine):
    cache = benchmark_cache("nb201")
    shutil.copy(pristine, cache)
    _flip(cache, 1024)  # the case of the issue: an h5py RuntimeError traceback before
    out = _cli(*QUERY, home=home)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "rebuilding it now" in out.stderr
    assert '"index": 5' in out.stdout
    assert _same(read_store(cache), read_store(pristine))


def test_cli_one_line_for_a_folder_and_for_unwritable_homes(home, tmp_path):
    benchmark_cache("nb201").mkdir()
    for args in (QUERY, ("data", "build", "nb201")):
        out = _cli(*args, home=home)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        lines = out.stderr.strip().splitlines()
        assert lines[-1].startswith("nasscout: error:") and "move it away" in lines[-1]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for args in (QUERY, ("data", "build", "nb201")):
        out = _cli(*args, home=blocker / "home")
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("nasscout: error: cannot write")


def test_cli_train_store_in_an_unusable_folder_is_one_line(home, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    args = ("train", "--arch", "5", "--dataset", "fashion-mnist", "--epochs", "1")
    out = _cli(*args, "--store", str(blocker / "s.h5"), home=home)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "cannot use run store" in out.stderr
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    out = _cli(*args, "--store", str(junk), home=home)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "is not a readable HDF5 file" in out.stderr
