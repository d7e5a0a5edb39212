"""Curve sources for ``nasscout curves eval``: our Fashion-MNIST stores, the NATS sample, LCDB, any .h5 file.

Every source is checked against the raw data it comes from (the store's own arrays, the LCDB csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from predictors.curves.evaluation import cutoff_epoch, fold_ids
from predictors.curves.sources import (
    LCDB_ANCHORS,
    LCDB_CURVES,
    SOURCES,
    TRAIN_SIZE,
    from_store,
    load_source,
)
from surrogate.errors import NasscoutError
from surrogate.tabular import TabularBenchmark
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "datasets" / "nb201-fmnist-mini.h5"
LONG = ROOT / "datasets" / "nb201-fmnist-long.h5"


def test_fmnist_mini_is_the_store() -> None:
    src = load_source("fmnist-mini")
    bench = TabularBenchmark.open(MINI)
    cells = bench.cells_for("fashion-mnist")
    acc = bench.curves(cells, dataset="fashion-mnist", metric="valid_acc", seed=0)
    loss = bench.curves(cells, dataset="fashion-mnist", metric="train_loss", seed=0)
    assert src.axis == "epoch" and src.target == 20 and len(src.curves) == 200
    assert np.array_equal(src.curves.values, acc) and np.array_equal(src.curves.train_loss, loss)
    assert np.array_equal(src.groups, cells)
    assert src.curves.features.shape == (200, 30)  # NB201 one-hot: 6 edges x 5 ops
    assert np.array_equal(src.curves.features, bench.space.encode(cells, "onehot"))
    assert src.curves.bounds == (0.0, 100.0) and src.curves.higher_is_better
    assert np.array_equal(src.x, np.arange(1, 21))
    # the same file by path gives the same curves
    same = load_source(str(MINI))
    assert np.array_equal(same.curves.values, src.curves.values)


def test_fmnist_long_keeps_every_seed_grouped_by_cell() -> None:
    src = load_source("fmnist-long")
    bench = TabularBenchmark.open(LONG)
    cells = bench.cells_for("fashion-mnist")
    expected = 0
    for seed in bench.seeds("fashion-mnist"):
        c = bench.curves(cells, dataset="fashion-mnist", metric="valid_acc", seed=seed)
        expected += int(np.isfinite(c).all(axis=1).sum())
    assert src.target == 50 and len(src.curves) == expected >= 12
    assert np.isfinite(src.curves.values).all()
    assert set(src.groups.tolist()) <= set(cells.tolist())


@pytest.mark.skipif(not (SHARED_DATA / "nats_tss_sample").is_dir(), reason="NATS sample not found")
def test_nats_sample_through_the_importer() -> None:
    src = load_source("nats-sample")
    # 3 cells x 3 datasets x 3 seeds of the 200-epoch schedule
    assert len(src.curves) == 27 and src.target == 200
    assert sorted(np.unique(src.groups).tolist()) == [0, 11, 284]
    assert "cifar100 (valtest_acc)" in src.description and "cifar10 (valid_acc)" in src.description
    assert src.curves.train_loss is not None and np.isfinite(src.curves.train_loss).all()
    assert src.curves.features.shape == (27, 30 + 3)  # + the dataset one-hot
    # the cached import is reused, and answers like the store it is
    from surrogate.sources import benchmark_cache

    bench = TabularBenchmark.open(benchmark_cache("nats-tss-sample"))
    c = bench.curves([11], dataset="cifar10", fidelity=200, metric="valid_acc", seed=888)[0]
    row = src.labels.index("cifar10 cell 11 seed 888")
    assert np.array_equal(src.curves.values[row], c)
    assert ((src.curves.values > 0) & (src.curves.values <= 100)).all()


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "lcdb").is_dir(), reason="LCDB not found")
def test_lcdb_subset_matches_the_csv() -> None:
    import pandas as pd

    src = load_source("lcdb")
    assert src.axis == TRAIN_SIZE and "not epochs" in src.description
    assert len(src.curves) == LCDB_CURVES and src.target == len(LCDB_ANCHORS)
    assert np.array_equal(src.x, LCDB_ANCHORS) and src.curves.bounds == (0.0, 1.0)
    assert src.curves.train_loss is None and src.curves.features.shape[1] == 20
    again = load_source("lcdb")  # from the cache now: the same seeded subset
    assert np.array_equal(again.curves.values, src.curves.values)
    row = 7
    openmlid = int(src.groups[row])
    df = pd.read_csv(SHARED_DATA / "lcdb" / "database-accuracy.csv.gz")
    df = df[(df.openmlid == openmlid) & (df.outer_seed == 0) & (df.inner_seed == 0)]
    learner = [a for a in df.learner.unique() if src.labels[row].endswith(a.rsplit(".", 1)[-1])]
    c = df[df.learner == learner[0]].groupby("size_train").score_valid.mean()
    assert np.allclose(src.curves.values[row], c.loc[list(LCDB_ANCHORS)].to_numpy())


def test_unknown_sources_are_one_clear_line(tmp_path) -> None:
    with pytest.raises(NasscoutError, match="unknown curve source 'nope'; accepted: fmnist-mini"):
        load_source("nope")
    with pytest.raises(NasscoutError, match="is not a file"):
        load_source(str(tmp_path / "missing.h5"))
    assert set(SOURCES) == {"fmnist-mini", "fmnist-long", "nats-sample", "lcdb"}


def test_a_store_without_curves_is_refused(nb201) -> None:
    with pytest.raises(NasscoutError, match="no complete per-epoch accuracy curves"):
        from_store(nb201.path)


def test_folds_never_split_a_cell_and_cover_every_curve() -> None:
    groups = np.repeat(np.arange(30), 3)  # 30 cells x 3 seeds
    f = fold_ids(groups, 5, seed=4)
    assert sorted(np.unique(f).tolist()) == [0, 1, 2, 3, 4]
    for g in range(30):
        assert len(np.unique(f[groups == g])) == 1
    assert np.array_equal(f, fold_ids(groups, 5, seed=4))
    assert not np.array_equal(f, fold_ids(groups, 5, seed=5))
    assert len(np.unique(fold_ids(np.array([3, 3, 8]), 5, seed=0))) == 2  # folds <= groups
    with pytest.raises(NasscoutError, match="at least 2"):
        fold_ids(np.zeros(4, dtype=int), 5, seed=0)


def test_cutoff_epochs() -> None:
    assert [cutoff_epoch(c, 20) for c in (0.1, 0.25, 0.5)] == [2, 5, 10]
    assert [cutoff_epoch(c, 50) for c in (0.1, 0.25, 0.5)] == [5, 13, 25]  # half rounds up
    assert cutoff_epoch(0.01, 20) == 1
