"""The NB201 table answers with the values in the public data, for every cell."""

import numpy as np
import pytest

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

ALL = np.arange(15625)
PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}


@pytest.mark.parametrize("dataset", list(PREFIX))
def test_200_epoch_values_match_the_data_for_every_cell(nb201, merged, dataset):
    p = PREFIX[dataset]
    r = nb201.query(ALL, dataset=dataset)
    np.testing.assert_allclose(r.valid_acc, merged[f"{p}_val200_mean"], atol=6e-5)
    np.testing.assert_allclose(r.train_time_s, merged[f"{p}_train_time200_s"], rtol=1e-5)
    np.testing.assert_allclose(r.params_m, merged[f"{p}_params_mb"], rtol=5e-6)
    np.testing.assert_allclose(r.latency_s, merged[f"{p}_latency_s"], rtol=1e-4)
    assert np.array_equal(nb201.n_seeds(ALL, dataset=dataset), merged[f"{p}_n_seeds"])
    if dataset == "cifar10":
        assert np.isnan(r.test_acc).all()  # not in any public source we have
    else:
        np.testing.assert_allclose(r.test_acc, merged[f"{p}_valtest200_mean"], atol=6e-5)
    np.testing.assert_allclose(
        nb201.extra(ALL, dataset=dataset, field="naslib_valid_acc"),
        merged[f"{p}_naslib_val200"],
        atol=6e-5,
    )


@pytest.mark.parametrize("dataset", list(PREFIX))
def test_12_epoch_fidelity_is_its_own_schedule(nb201, merged, dataset):
    p = PREFIX[dataset]
    r = nb201.query(ALL, dataset=dataset, fidelity=12)
    np.testing.assert_allclose(r.valid_acc, merged[f"{p}_hp12_val"], atol=6e-5)
    np.testing.assert_allclose(r.test_acc, merged[f"{p}_hp12_test"], atol=6e-5)
    assert r.fidelity == 12
    assert np.all(nb201.cost(ALL, dataset=dataset, fidelity=12) < nb201.cost(ALL, dataset=dataset))


def test_per_seed_values_match(nb201, merged):
    seeds = merged["cifar10_val200_seeds"].str.split(";")
    for s in range(3):
        want = np.array([float(v[s]) if len(v) > s else np.nan for v in seeds])
        got = nb201.query(ALL, dataset="cifar10", seed=s).valid_acc
        np.testing.assert_allclose(got, want, atol=6e-5)


def test_random_seed_draws_are_reproducible_and_real(nb201):
    cells = np.arange(0, 15625, 7)
    a = nb201.query(cells, dataset="cifar10", seed=np.random.default_rng(1)).valid_acc
    b = nb201.query(cells, dataset="cifar10", seed=np.random.default_rng(1)).valid_acc
    assert np.array_equal(a, b) and not np.isnan(a).any()
    per_seed = np.stack([nb201.query(cells, dataset="cifar10", seed=s).valid_acc for s in range(3)])
    assert np.all(np.any(per_seed == a, axis=0))  # every draw is one of the cell's recorded seeds
    c = nb201.query(cells, dataset="cifar10", seed=np.random.default_rng(2)).valid_acc
    assert not np.array_equal(a, c)


def test_oracle_best(nb201):
    assert nb201.best("cifar10")[0] == 6111
    assert nb201.best("cifar10")[1] == pytest.approx(91.6067, abs=1e-4)
    space = NB201Space()
    best100 = nb201.best("cifar100", metric="test_acc")
    assert space.format(best100[0]) == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert best100[1] == pytest.approx(73.50, abs=0.01)
    with pytest.raises(NasscoutError, match="test_acc is not recorded for cifar10"):
        nb201.best("cifar10", metric="test_acc")


def test_query_accepts_every_form_of_cell(nb201):
    space = NB201Space()
    forms = [6111, "6111", space.from_index(6111), str(space.from_index(6111)), np.int64(6111)]
    for f in forms:
        assert nb201.query([f], dataset="cifar10").index[0] == 6111


def test_info(nb201):
    info = nb201.info()
    assert info["cells"] == 15625 and info["unique_cells"] == 6466
    assert info["datasets"] == ["cifar10", "cifar100", "ImageNet16-120"]
    assert info["fidelities"] == [12, 200]
    assert info["best"]["cifar10"]["index"] == 6111
    assert "test_acc@200" in info["fields"]["cifar100"]


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (
            {"dataset": "mnist"},
            "unknown dataset 'mnist'; accepted: cifar10, cifar100, ImageNet16-120",
        ),
        (
            {"dataset": "cifar10", "fidelity": 13},
            "unknown fidelity 13 for cifar10; accepted epochs: 12, 200",
        ),
        ({"dataset": "cifar10", "seed": 5}, "unknown seed 5 for cifar10 at 200 epochs"),
        ({"dataset": "cifar10", "seed": "first"}, "unknown seed 'first'"),
    ],
)
def test_bad_queries(nb201, kwargs, needle):
    with pytest.raises(NasscoutError) as err:
        nb201.query([1, 2], **kwargs)
    assert needle in str(err.value)


def test_dataset_aliases(nb201):
    assert nb201.query([1], dataset="imagenet").dataset == "ImageNet16-120"
    assert nb201.query([1], dataset="CIFAR-100").dataset == "cifar100"
