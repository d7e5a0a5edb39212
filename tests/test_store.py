import h5py
import numpy as np
import pytest

from surrogate.errors import DataError
from surrogate.store import read_store, write_store
from surrogate.tabular import TabularBenchmark


def small_store(path):
    cells = np.array([3, 11, 284])
    return write_store(
        path,
        {
            "cells": cells,
            "cifar10/fid_200/valid_acc": np.array([[80.0, 82.0], [90.0, np.nan], [70.0, 71.0]]),
            "cifar10/fid_200/train_time_s": np.array(
                [[100.0, 100.0], [200.0, np.nan], [50.0, 50.0]]
            ),
            "cifar10/fid_200/curves/valid_acc": np.arange(3 * 2 * 4, dtype=np.float32).reshape(
                3, 2, 4
            ),
            "cifar10/static/params_m": np.array([0.1, 0.5, 1.0]),
        },
        name="tiny",
        sources={"cifar10/fid_200/valid_acc": "made up for a test"},
        group_attrs={"cifar10/fid_200": {"seeds": [777, 888]}},
    )


def test_round_trip_and_queries(tmp_path):
    b = TabularBenchmark.open(small_store(tmp_path / "t.h5"))
    assert b.name == "tiny" and b.datasets == ("cifar10",) and b.fidelities == (200,)
    r = b.query([11, 3], dataset="cifar10")
    assert r.valid_acc.tolist() == [90.0, 81.0] and np.isnan(r.test_acc).all()
    assert b.query([3], dataset="cifar10", seed=888).valid_acc[0] == 82.0
    assert b.cost([284], dataset="cifar10")[0] == 50.0
    assert b.best("cifar10") == (11, 90.0)
    assert b.curves([284], dataset="cifar10", seed=777).tolist() == [[16, 17, 18, 19]]
    # a random draw only picks seeds that the cell has
    draws = b.query(np.full(200, 11), dataset="cifar10", seed=np.random.default_rng(0)).valid_acc
    assert np.all(draws == 90.0)
    assert b.info()["cells"] == 3


def test_cell_not_in_a_partial_benchmark(tmp_path):
    b = TabularBenchmark.open(small_store(tmp_path / "t.h5"))
    with pytest.raises(
        Exception, match="cell 0 .* is not in benchmark 'tiny', which holds 3 cells"
    ):
        b.query([0], dataset="cifar10")


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    small_store(tmp_path / "t.h5")
    small_store(tmp_path / "t.h5")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]


def test_corrupt_file_is_detected_by_checksum(tmp_path):
    path = small_store(tmp_path / "t.h5")
    with h5py.File(path, "r+") as f:
        f["cifar10/fid_200/valid_acc"][0, 0] = 99.0
    with pytest.raises(DataError, match="checksum mismatch.*rebuild me"):
        read_store(path, rebuild_hint="rebuild me")


def test_truncated_file_is_reported(tmp_path):
    path = small_store(tmp_path / "t.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable or truncated"):
        read_store(path)


def test_other_schema_is_refused(tmp_path):
    path = small_store(tmp_path / "t.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(DataError, match="schema version 99"):
        read_store(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1]
    with pytest.raises(DataError, match="not a nasscout benchmark file"):
        read_store(other)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_store(tmp_path / "nope.h5")


def test_bad_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError, match="first axis must be 2"):
        write_store(
            tmp_path / "x.h5", {"cells": [1, 2], "a/fid_1/valid_acc": np.zeros((3, 1))}, name="x"
        )
