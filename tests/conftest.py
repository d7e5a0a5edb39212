"""Shared test fixtures. Tests read the real public data in ../shared/data; each test process gets its own
NASSCOUT_HOME, so the NB201 benchmark is built once per process from the sources (also testing the build)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# 2 CPU cores shared by several processes: a first call that builds a table (e.g. NB201's isomorphism
# classes, ~0.15 s) can exceed hypothesis' 200 ms default under load and fail as "unreliable timings"
settings.register_profile("nasscout", deadline=2000)
settings.load_profile("nasscout")

if "NASSCOUT_TEST_HOME" in os.environ:
    os.environ["NASSCOUT_HOME"] = os.environ["NASSCOUT_TEST_HOME"]
else:
    os.environ["NASSCOUT_HOME"] = tempfile.mkdtemp(prefix="nasscout-test-home-")
os.environ.setdefault("NASSCOUT_OFFLINE", "1")

SHARED_DATA = Path(
    os.environ.get("NASSCOUT_DATA_SOURCES")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "nb201").is_dir():
        pytest.skip(f"public data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def nb201(shared_data):
    from surrogate.registry import load_benchmark

    return load_benchmark("nb201")


@pytest.fixture(scope="session")
def merged(shared_data):
    """The cross-check table of SOURCE.md: one row per cell, in index order."""
    import pandas as pd

    return pd.read_csv(shared_data / "nb201" / "nb201_merged.csv.gz").sort_values("index")


@pytest.fixture(scope="session")
def transnas(shared_data):
    if not (shared_data / "transnas101_micro").is_dir():
        pytest.skip(f"TransNAS-Bench-101 data not found at {shared_data}")
    from surrogate.registry import load_benchmark

    return load_benchmark("transnas-micro")


@pytest.fixture(scope="session")
def nbgraph():
    pytest.importorskip("nas_bench_graph")
    from surrogate.registry import load_benchmark

    return load_benchmark("nasbench-graph")
