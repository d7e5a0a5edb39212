"""Training-free proxies: agreement with NASLib's published values, caching, calibration, feature table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from predictors.registry import make_predictor
from predictors.zerocost import (
    JacovProxy,
    ParamsProxy,
    ProxyCache,
    SynflowProxy,
    cell_features,
    image_batch,
    jacov_score,
    synflow_score,
)
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space, canonical_indices, class_members

SPACE = NB201Space()
DEGENERATE = (
    105  # |none~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|: output ignores the input
)


@pytest.fixture(scope="module")
def one_torch_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def naslib_cells(nb201):
    """Cells with NASLib's own synflow/jacov (NAS-Bench-Suite-Zero's 491-cell file), spread over its range."""
    ref = nb201.extra(SPACE.all_indices, dataset="cifar10", field="zc_synflow")
    have = np.flatnonzero(np.isfinite(ref))
    order = have[np.argsort(ref[have])]
    return order[np.linspace(0, len(order) - 1, 10).astype(int)]


@pytest.fixture(scope="module")
def targets(nb201):
    return nb201.query(SPACE.all_indices, dataset="cifar10", seed="mean").valid_acc


def test_synflow_reproduces_naslib_values(nb201, naslib_cells, one_torch_thread):
    ref = nb201.extra(naslib_cells, dataset="cifar10", field="zc_synflow")
    ours = np.array([synflow_score(int(c), "cifar10") for c in naslib_cells])
    dead = ref == 0  # NASLib's score for a network whose output ignores its input
    assert dead.sum() >= 1 and np.all(np.isnan(ours[dead])) and np.all(np.isfinite(ours[~dead]))
    # same quantity (log synflow), different random weights: close in value, same order
    assert np.max(np.abs(ours[~dead] - ref[~dead])) < 1.0
    assert spearmanr(ours[~dead], ref[~dead]).statistic > 0.95


def test_jacov_agrees_with_naslib_and_flags_degenerate_cells(nb201, naslib_cells, one_torch_thread):
    batch = image_batch("fashion-mnist", 32, seed=0)
    cells = naslib_cells[::2]
    ref = nb201.extra(cells, dataset="cifar10", field="zc_jacov")
    ours = np.array([jacov_score(int(c), "cifar10", batch) for c in cells])
    ok = np.isfinite(ours) & np.isfinite(ref) & (ref > -1e7)
    assert ok.sum() >= 4
    assert spearmanr(ours[ok], ref[ok]).statistic > 0.6
    assert np.isnan(jacov_score(DEGENERATE, "cifar10", batch))
    assert np.isnan(synflow_score(DEGENERATE, "cifar10"))


def test_image_batches_are_real_reproducible_and_sized():
    a = image_batch("fashion-mnist", 8, seed=3)
    b = image_batch("fashion-mnist", 8, seed=3)
    c = image_batch("fashion-mnist", 8, seed=4)
    assert a.shape == (8, 3, 32, 32) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a[:, :, :2, :] == 0)  # the zero padding around the 28x28 images
    assert np.array_equal(a[:, 0], a[:, 2])  # grey images repeated over 3 channels
    assert image_batch("fashion-mnist", 4, seed=0, hw=16).shape == (4, 3, 16, 16)
    assert image_batch("random", 4, seed=0).std() > 0.5
    with pytest.raises(NasscoutError, match="'imagenet'"):
        image_batch("imagenet", 4, seed=0)


def test_cache_computes_only_missing_cells_and_shares_isomorphic_ones(one_torch_thread):
    cache = ProxyCache("synflow", "cifar10", C=4, N=1)
    cell = 11472
    first = cache.values([cell])
    values, done, seconds = cache.load_all()
    members = class_members(cell)
    assert len(members) > 1
    assert done[members].all() and done.sum() == len(members)  # one network run fills the class
    assert np.all(values[members] == first[0]) and np.all(seconds[members] > 0)
    # a second cache object reads the file: no computation needed, identical values
    again = ProxyCache("synflow", "cifar10", C=4, N=1).values(members, compute=False)
    assert np.array_equal(again, np.full(len(members), first[0]))
    # another process's work is merged, not overwritten
    other = ProxyCache("synflow", "cifar10", C=4, N=1)
    other.values([6111])
    cache.save(values, done, seconds)
    _, merged, _ = cache.load_all()
    assert merged[6111] and merged[cell]
    assert canonical_indices([6111])[0] != canonical_indices([cell])[0]


def test_truncated_cache_file_is_recomputed_not_trusted(one_torch_thread):
    cache = ProxyCache("synflow", "cifar10", C=4, N=1, seed=5)
    v = cache.values([6111])
    cache.path.write_bytes(cache.path.read_bytes()[:50])
    _, done = cache.load()
    assert not done.any()
    assert np.array_equal(cache.values([6111]), v)


def test_free_proxies_rank_like_the_literature(targets):
    cells = np.random.default_rng(0).choice(SPACE.N_CELLS, size=2000, replace=False)
    for name, floor in (("params", 0.45), ("flops", 0.42), ("zen", 0.15)):
        model = make_predictor(name)
        tau = kendalltau(model.predict(cells), targets[cells]).statistic
        assert tau > floor, (name, tau)


def test_fit_calibrates_to_percent_without_changing_the_ranking(targets):
    rng = np.random.default_rng(1)
    train = rng.choice(SPACE.N_CELLS, size=60, replace=False)
    test = np.setdiff1d(rng.choice(SPACE.N_CELLS, size=400, replace=False), train)
    model = ParamsProxy()
    raw = model.predict(test)
    assert model.fit(train, targets[train]) is model
    mean, std = model.predict(test, return_std=True)
    assert np.array_equal(np.argsort(raw, kind="stable"), np.argsort(mean, kind="stable"))
    assert 40 < mean.mean() < 95  # percent, not log-params
    assert np.all(std > 0)
    cover = np.mean(np.abs(targets[test] - mean) <= 1.645 * std)
    assert 0.8 <= cover <= 1.0


def test_zen_treats_naslib_failures_as_degenerate(nb201):
    raw = nb201.extra(SPACE.all_indices, dataset="cifar10", field="zen")
    failed = np.flatnonzero(raw <= -1e7)
    assert len(failed) > 0
    model = make_predictor("zen")
    assert np.all(np.isnan(model.score(failed[:5])))
    working = np.flatnonzero(raw > -1e7)[:50]
    model.fit(working, np.linspace(10, 90, 50))
    assert model.predict(failed[:5]).max() < model.predict(working).min() + 1e-9
    # whatever the training cells, the ranking is the proxy's: failures last, the rest by score
    probe = np.r_[failed[:20], np.random.default_rng(0).choice(15625, 300, replace=False)]
    by_score = np.argsort(np.where(raw[probe] > -1e7, raw[probe], -np.inf), kind="stable")
    for train in (working[:5], np.flatnonzero(raw > 150)[:8], np.r_[failed[:3], working[:30]]):
        m = make_predictor("zen").fit(train, np.linspace(20, 90, len(train)))
        assert np.all(np.diff(m.predict(probe)[by_score]) >= 0)


def test_network_proxies_as_predictors(targets, one_torch_thread):
    model = SynflowProxy(dataset="cifar-10", max_calibration=3)  # aliases accepted
    cells = np.array([11472, 6111, DEGENERATE, 1462])
    raw = model.predict(cells)
    assert raw[2] == SynflowProxy.degenerate and raw[[0, 1, 3]].min() > 10
    model.fit(cells, targets[cells])  # calibrates on the first 3 only
    assert model.n_fit_ == 3
    mean = model.predict(cells)
    assert np.argmin(mean) == 2
    assert np.all(model.compute_seconds(cells) > 0) and model.time_uncached([11472]) > 0
    jac = JacovProxy(batch="random", batch_size=8)
    assert np.isfinite(jac.predict([11472])[0])
    assert jac.cache().path != JacovProxy().cache().path  # the batch is part of the cache key


def test_cell_features_table(one_torch_thread):
    ProxyCache("synflow", "cifar10").values([11472, DEGENERATE])
    table, names = cell_features("cifar10", proxies=("params", "flops", "zen", "synflow"))
    assert names == ["params", "flops", "zen", "synflow"]
    assert table.shape == (SPACE.N_CELLS, 4)
    assert np.all(np.isfinite(table[:, :2]))
    col = table[:, 3]
    assert np.isfinite(col[class_members(11472)]).all() and col[11472] > 10
    assert col[DEGENERATE] == SynflowProxy.degenerate  # known to be the worst, not unknown
    assert np.isnan(col).sum() > SPACE.N_CELLS - 200  # everything not computed is unknown
    none, none_names = cell_features("cifar100", proxies=("jacov",))
    assert none.shape == (SPACE.N_CELLS, 0) and none_names == []  # nothing cached: column left out


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda: cell_features("cifar10", proxies=("params", "snip")), "'snip'"),
        (lambda: ProxyCache("grasp", "cifar10"), "'grasp'"),
        (lambda: ProxyCache("jacov", "mnist"), "'mnist'"),
        (lambda: ProxyCache("jacov", "cifar10", batch="noise"), "'noise'"),
        (lambda: ProxyCache("jacov", "cifar10", batch_size=1), "batch_size=1"),
        (lambda: make_predictor("params", dataset="svhn").predict([0]), "'svhn'"),
        (lambda: SynflowProxy(max_calibration=0).fit([0, 1], [1.0, 2.0]), "max_calibration=0"),
        (lambda: ParamsProxy().fit([0, 1], [1.0, float("nan")]), "NaN"),
    ],
)
def test_bad_input_fails_with_one_line(call, needle):
    with pytest.raises(NasscoutError, match=needle) as err:
        call()
    assert "\n" not in str(err.value)
