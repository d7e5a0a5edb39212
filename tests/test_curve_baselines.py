"""The baselines' documented behaviour and LcSVR's batching, on the real fmnist-mini curves."""

from __future__ import annotations

import numpy as np
import pytest

from predictors.curves import make_extrapolator
from predictors.curves.baselines import UNFITTED_STD
from predictors.curves.sources import load_source
from surrogate.errors import NasscoutError

T = 20


@pytest.fixture(scope="module")
def split():
    c = load_source("fmnist-mini").curves
    return c.subset(np.arange(150)), c.subset(np.arange(150, 200))


def test_unfitted_last_and_best_are_the_raw_values_with_a_wide_std(split):
    _, test = split
    part = test.cut(5)
    p = make_extrapolator("last").predict(part, T)
    assert np.allclose(p.mean, test.values[:, 4])
    assert np.allclose(p.std, 100 * (UNFITTED_STD[0] + UNFITTED_STD[1] * (1 - 5 / T)))
    b = make_extrapolator("best").predict(part, T)
    assert np.allclose(b.mean, np.max(test.values[:, :5], axis=1))


def test_calibration_narrows_with_the_cutoff_and_beats_the_raw_value(split):
    train, test = split
    last = make_extrapolator("last").fit(train, T)
    early, late = last.predict(test.cut(2), T), last.predict(test.cut(15), T)
    assert early.std.mean() > late.std.mean()
    raw = np.mean(np.abs(test.values[:, 1] - test.values[:, -1]))  # about 45 points at epoch 2
    assert np.mean(np.abs(early.mean - test.values[:, -1])) < raw / 10


def test_sotle_window(split):
    train, test = split
    one = make_extrapolator("sotle").fit(train, T).predict(test.cut(10), T)
    three = make_extrapolator("sotle", last_epochs=3).fit(train, T).predict(test.cut(10), T)
    assert not np.allclose(one.mean, three.mean)
    with pytest.raises(NasscoutError, match="last_epochs=0 is invalid"):
        make_extrapolator("sotle", last_epochs=0)
    with pytest.raises(NasscoutError, match="needs train_loss"):
        make_extrapolator("sotle").fit(_no_loss(train), T)


def _no_loss(c):
    from dataclasses import replace

    return replace(c, train_loss=None)


def test_lcsvr_mixed_lengths_equal_separate_batches(split):
    train, test = split
    ex = make_extrapolator("lcsvr", n_hypers=6).fit(train, T)
    lengths = np.array([3, 8] * 25)
    mixed = ex.predict(test.cut(lengths), T)
    for k in (3, 8):
        rows = np.flatnonzero(lengths == k)
        alone = ex.predict(test.subset(rows).cut(k), T)
        assert np.allclose(mixed.mean[rows], alone.mean) and np.allclose(mixed.std[rows], alone.std)
    assert set(ex.cv_std_) == {(3, T), (8, T)}  # one model per length seen, fitted lazily
