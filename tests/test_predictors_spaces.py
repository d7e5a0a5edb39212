"""Predictors on a space that is not NB201: the toy space of ``toy_space.py`` (3 positions, 4/6/5 choices,
6 choice vectors that are no cell, only the generic encodings), plus the NB201-only parts refusing cleanly,
and the XGBoost interval using its calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau
from toy_space import ToySpace, toy_targets

from predictors.base import Z90
from predictors.features import cell_graph, side_feature_table, structure_table
from predictors.registry import PREDICTORS, make_predictor, predictor_class
from surrogate.errors import NasscoutError

TOY = ToySpace()
TRAINED = [n for n in PREDICTORS if predictor_class(n).needs_training]
CHEAP = {
    "mlp-ensemble": {"epochs": 30},
    "gin": {"epochs": 20, "min_steps": 150},
    "lstm": {"epochs": 10, "min_steps": 150},
    "ensemble": {"member_options": {"gin": {"epochs": 20, "min_steps": 150}}, "min_stack": 0},
}


@pytest.fixture(scope="module")
def toy():
    y = toy_targets(TOY)
    perm = np.random.default_rng(0).permutation(TOY.n_cells)
    return perm[:40], perm[40:], y


def test_toy_space_is_generic():
    assert TOY.n_cells == 114 and TOY.encodings == ("onehot", "tokens")
    assert structure_table(TOY) is None  # no DAG: no live-structure columns
    assert side_feature_table(None, True, TOY) is None
    with pytest.raises(NasscoutError, match=r"cell_features has shape \(15625, 1\).*\(114, k\)"):
        side_feature_table(np.ones(15625), False, TOY)


@pytest.mark.parametrize("name", TRAINED)
def test_every_trained_predictor_learns_the_toy_space(name, toy):
    train, test, y = toy
    model = make_predictor(name, space=TOY, **CHEAP.get(name, {})).fit(train, y[train])
    mean, std = model.predict(test, return_std=True)
    assert mean.shape == std.shape == (len(test),)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)
    # the targets are a simple function of the choices: 40 cells suffice (measured 0.82-0.89)
    assert kendalltau(mean, y[test])[0] >= 0.6
    assert 0.6 <= np.mean(np.abs(mean - y[test]) <= Z90 * std) <= 1.0
    strings = [TOY.format(int(i)) for i in test[:4]]
    np.testing.assert_allclose(model.predict(strings), mean[:4], rtol=1e-6)  # float32 batches
    with pytest.raises(NasscoutError, match=r"out of range.*0\.\.113"):
        model.predict([TOY.n_cells])  # an NB201 index beyond the toy space


def test_gp_drops_the_path_kernel_and_its_gradient_holds_for_unequal_cardinalities(toy):
    from scipy.optimize import approx_fprime

    from predictors.base import TargetTransform

    train, _, y = toy
    gp = make_predictor("gp", space=TOY, n_restarts=0).fit(train[:25], y[train[:25]])
    assert gp.parts_ == ("hamming", "side")  # no 'path' encoding on this space
    names = gp.hyperparameters()
    assert [k for k in names if k.startswith("hamming_w")] == [
        "hamming_w0",
        "hamming_w1",
        "hamming_w2",
    ]
    data = gp._data(train[:25])
    z = TargetTransform("log-error", y[train[:25]]).forward(y[train[:25]])
    cross, basis = gp._cross(data, data), gp._basis(data)
    theta = gp.layout_.start + np.random.default_rng(1).normal(0.0, 0.5, len(gp.layout_.start))
    analytic = gp._objective(theta, cross, z, basis)[1]
    numeric = approx_fprime(theta, lambda t: gp._objective(t, cross, z, basis)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-4)


def test_gin_graphs_generic_on_toy_and_none_nodes_cut_on_nb201(nb201):
    adj, feats = cell_graph(TOY, np.arange(5))
    assert adj.shape == (5, 4, 4) and feats.shape == (5, 4, 16)  # 3 positions + readout
    np.testing.assert_array_equal(feats[:, :3].sum(axis=2), 1.0)  # one choice per position
    ops = TOY.ops(np.arange(5))
    np.testing.assert_array_equal(feats[np.arange(5), 1, 4 + ops[:, 1]], 1.0)  # b's block at 4
    cell = nb201.space.index(
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    )
    adj, feats = cell_graph(nb201.space, np.array([cell]))
    dead = np.array([2, 5, 6])  # nodes 1 + edge of the 'none' edges
    assert adj[0][dead].sum() == 0 and adj[0][:, dead].sum() == 0
    assert adj[0].sum() > 0


@pytest.mark.parametrize("proxy", ["synflow", "jacov"])
def test_network_proxies_refuse_another_space_in_one_line(proxy, toy):
    train, _, y = toy
    model = make_predictor(proxy, space=TOY)
    for call in (
        lambda: model.fit(train, y[train]),
        lambda: model.predict(train),
        lambda: model.score(train),
    ):
        with pytest.raises(NasscoutError) as exc:
            call()
        msg = str(exc.value)
        assert "\n" not in msg
        assert f"proxy {proxy!r} needs the NB201 torch network" in msg and "'toy'" in msg
        assert "proxies that apply there: none" in msg


def test_harness_runs_on_the_toy_space_and_refuses_synflow_features(toy):
    from predictors.evaluation import EvalSpec, evaluate

    _, _, y = toy
    spec = EvalSpec(
        predictors=("xgb", "gp"),
        train_sizes=(10, 40),
        test_size=30,
        seeds=2,
        features=(),
        options={"xgb": {"n_estimators": 60}, "gp": {"n_restarts": 0}},
        cells=TOY.all_indices,
        targets=y,
        space=TOY,
    )
    result = evaluate(spec)
    assert result.meta["space"] == "toy" and len(result.rows) == 2 * 2 * 2
    big = [r["kendalltau"] for r in result.rows if r["train_size"] == 40]
    assert min(big) >= 0.5
    bad = EvalSpec(**{**spec.__dict__, "features": ("synflow",)})
    with pytest.raises(NasscoutError, match="proxy 'synflow' needs the NB201 torch network"):
        evaluate(bad)
    bad = EvalSpec(**{**spec.__dict__, "predictors": ("xgb", "jacov"), "options": {}})
    with pytest.raises(NasscoutError, match="proxy 'jacov' needs the NB201 torch network"):
        evaluate(bad)


def test_xgb_interval_is_the_calibrated_one(nb201):
    """``predict`` must apply ``std_scale_`` (it used to ignore it: this test fails on that code)."""
    cells = nb201.space.all_indices
    y = nb201.query(cells, dataset="cifar10").valid_acc
    perm = np.random.default_rng(2024).permutation(len(cells))
    train, test = perm[200:210], perm[:200]
    model = make_predictor("xgb", n_estimators=60, target="identity").fit(train, y[train])
    X = model._features(test)
    pred = np.stack([b.inplace_predict(X) for b in model.boosters_]).astype(np.float64)
    spread = np.sqrt(pred.var(axis=0) + model.extra_var_) * model.target_.sd
    _, std = model.predict(test, return_std=True)
    assert model.std_scale_ < 0.99  # measured 0.982 on these 10 cells: the scale matters
    np.testing.assert_allclose(std, model.std_scale_ * spread, rtol=1e-9)
    model.std_scale_ = 0.5  # the fitted attribute is what predict reads
    np.testing.assert_allclose(model.predict(test, return_std=True)[1], 0.5 * spread, rtol=1e-9)


def test_proxy_keeps_its_ranking_when_the_target_runs_against_it(nbgraph):
    """A fitted proxy predicts in the proxy's order even with a negative fit (no float ties from a tiny slope)."""
    model = make_predictor(
        "params", space=nbgraph.space, dataset="arxiv", benchmark="nasbench-graph"
    )
    cells = np.random.default_rng(3).permutation(nbgraph.space.n_cells)[:300]
    score = model.score(cells)
    model.fit(
        cells[:50], 80.0 - score[:50]
    )  # accuracy falling with params: slope floored, not reversed
    pred = model.predict(cells)
    ok = np.isfinite(score)
    assert kendalltau(pred[ok], score[ok])[0] == pytest.approx(1.0)
