"""One contract for every registered predictor (the sklearn ``check_estimator`` idea).

Each predictor in ``list_predictors()`` must: fit -> self; predict one finite value per cell; with
``return_std`` the same mean and a finite std >= 0; give identical predictions bit for bit for the same seed;
survive a pickle round trip and a model-file round trip; read cells as indices or arch strings alike; and refuse bad input with a
NasscoutError. Training-free proxies (``needs_training = False``) skip the fit-specific checks. Torch models
run with few epochs here: the contract is about behaviour, quality is tested in test_predictors_models.py.
"""

from __future__ import annotations

import pickle
from functools import cache

import numpy as np
import pytest

from predictors.registry import PREDICTORS, list_predictors, make_predictor
from surrogate.errors import NasscoutError

# cheap settings for slow models; the contract does not depend on them
FAST = {
    "mlp-ensemble": {"epochs": 4},
    "lstm": {"epochs": 3, "min_steps": 0},
    "gin": {"epochs": 3, "min_steps": 0},
    "ensemble": {"member_options": {"gin": {"epochs": 3, "min_steps": 0}}, "min_stack": 0},
}
NAMES = [name for name, _ in list_predictors()]


@pytest.fixture(scope="module")
def data(nb201):
    rng = np.random.default_rng(7)
    cells = rng.permutation(nb201.space.N_CELLS)
    train, test = cells[:30], cells[30:42]
    y = nb201.query(train, dataset="cifar10").valid_acc
    return train, y, test


@cache
def tiny_supernet() -> str:
    """A supernet trained for one epoch on a tiny slice of Fashion-MNIST (for ``oneshot``)."""
    import tempfile
    from pathlib import Path

    from surrogate.training.presets import get_preset
    from surrogate.training.supernet_train import SupernetRun, train_supernet

    tiny = {"n_train": 128, "n_valid": 64, "n_test": 64, "C": 4, "N": 1, "image_size": 8}
    out = Path(tempfile.mkdtemp(prefix="nasscout-sn-")) / "tiny.pt"
    train_supernet(SupernetRun("fashion-mnist", get_preset("cpu-mini", tiny), 1, out))
    return str(out)


def options(name: str) -> dict:
    return {**FAST.get(name, {}), **({"supernet": tiny_supernet()} if name == "oneshot" else {})}


def build(name: str, seed: int = 0):
    return make_predictor(name, seed=seed, **options(name))


def fitted(name: str, data, seed: int = 0):
    train, y, _ = data
    model = build(name, seed)
    if model.needs_training:
        assert model.fit(train, y) is model
    return model


def test_registry_lists_every_predictor_with_a_summary():
    assert set(NAMES) == set(PREDICTORS)
    for name in ("gp", "xgb", "mlp-ensemble"):
        assert name in NAMES
    for name, summary in list_predictors():
        assert isinstance(summary, str) and summary, name


def test_unknown_predictor_and_option_are_one_line_errors():
    with pytest.raises(NasscoutError, match="unknown predictor 'nope'.*gp"):
        make_predictor("nope")
    with pytest.raises(NasscoutError, match="unknown option 'bogus'"):
        make_predictor("gp", bogus=1)


@pytest.mark.parametrize("name", NAMES)
def test_predict_shapes_std_and_identities(name, data, nb201):
    _, _, test = data
    model = fitted(name, data)
    mean = model.predict(test)
    assert isinstance(mean, np.ndarray) and mean.shape == (len(test),)
    assert np.all(np.isfinite(mean))
    mean2, std = model.predict(test, return_std=True)
    np.testing.assert_allclose(mean2, mean, rtol=0, atol=1e-9)
    assert std.shape == (len(test),) and np.all(np.isfinite(std)) and np.all(std >= 0)
    # arch strings and indices are the same cells
    strings = [nb201.space.format(int(i)) for i in test[:5]]
    np.testing.assert_allclose(model.predict(strings), mean[:5], rtol=0, atol=1e-9)
    assert model.predict(np.zeros(0, dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_predictions_bit_for_bit(name, data):
    _, _, test = data
    a = fitted(name, data, seed=3).predict(test, return_std=True)
    b = fitted(name, data, seed=3).predict(test, return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_predicts_the_same(name, data):
    _, _, test = data
    model = fitted(name, data)
    clone = pickle.loads(pickle.dumps(model))
    a, b = model.predict(test, return_std=True), clone.predict(test, return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("name", NAMES)
def test_model_file_round_trip_predicts_the_same(name, data, tmp_path):
    """The pickle-free model file (``predictors fit --out`` / ``predictors rank``) loses nothing."""
    from predictors.io import load_predictor, save_predictor

    _, _, test = data
    model = fitted(name, data)
    save_predictor(model, tmp_path / "m.model")
    clone = load_predictor(tmp_path / "m.model")
    assert type(clone) is type(model)
    a, b = model.predict(test, return_std=True), clone.predict(test, return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused(name, data):
    train, y, _ = data
    model = build(name)
    with pytest.raises(NasscoutError):
        model.predict([15625])  # out of range, whether fitted or not
    if not model.needs_training:
        return
    with pytest.raises(NasscoutError, match="not fitted"):
        model.predict(train[:3])
    with pytest.raises(NasscoutError, match="must match"):
        model.fit(train, y[:-1])
    bad = y.copy()
    bad[4] = np.nan
    with pytest.raises(NasscoutError, match="NaN"):
        model.fit(train, bad)
    with pytest.raises(NasscoutError, match="0 cells"):
        model.fit(np.zeros(0, dtype=np.int64), np.zeros(0))


@pytest.mark.parametrize("name", NAMES)
def test_cell_features_of_the_wrong_shape_are_refused(name, data):
    train, y, _ = data
    try:
        model = make_predictor(name, cell_features=np.ones((100, 2)), **options(name))
    except NasscoutError as exc:  # predictor without side features
        assert "unknown option 'cell_features'" in str(exc)
        return
    with pytest.raises(NasscoutError, match=r"cell_features has shape \(100, 2\)"):
        model.fit(train, y) if model.needs_training else model.predict(train)


# ---- the same contract on every space -------------------------------------------------------------------

# space -> (benchmark fixture of conftest.py, dataset) whose cells and targets the contract runs on; "toy" is
# tests/toy_space.py (3 positions of unequal cardinality, no path/adjacency encoding, no benchmark)
SPACE_DATA = {
    "nb201": ("nb201", "cifar10"),
    "transnas-micro": ("transnas", "class_object"),
    "nasbench-graph": ("nbgraph", "cora"),
    "toy": (None, None),
}
TRAINED = [name for name in NAMES if make_predictor(name).needs_training]


@pytest.fixture(scope="module", params=list(SPACE_DATA))
def space_data(request):
    fixture, dataset = SPACE_DATA[request.param]
    if fixture is None:
        from toy_space import ToySpace, toy_targets

        space = ToySpace()
        y_all = toy_targets(space)
        cells = space.all_indices
    else:
        bench = request.getfixturevalue(fixture)
        space = bench.space
        cells = bench.cells
        y_all = np.full(space.n_cells, np.nan)
        y_all[cells] = bench.query(cells, dataset=dataset, seed="mean").valid_acc
        cells = cells[np.isfinite(y_all[cells])]
    assert space.name == request.param
    perm = np.random.default_rng(5).permutation(cells)
    train, test = perm[:30], perm[30:42]
    return space, train, y_all[train], test


@pytest.mark.parametrize("name", TRAINED)
def test_trained_predictor_works_on_every_space(name, space_data):
    """Fit and predict on the space's own cells: finite, seeded bit for bit, picklable, its strings read."""
    space, train, y, test = space_data
    model = make_predictor(name, seed=2, space=space, **FAST.get(name, {}))
    assert model.fit(train, y) is model
    mean, std = model.predict(test, return_std=True)
    assert mean.shape == std.shape == (len(test),)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)
    again = make_predictor(name, seed=2, space=space, **FAST.get(name, {})).fit(train, y)
    assert np.array_equal(again.predict(test), mean)
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.predict(test), mean)
    strings = [space.format(int(i)) for i in test[:3]]
    np.testing.assert_allclose(model.predict(strings), mean[:3], rtol=1e-6)
    with pytest.raises(NasscoutError):
        model.predict([space.n_cells])
