"""The evaluation harness: NASLib's protocol, metrics, output files, quality floors and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from predictors.evaluation import (
    EvalSpec,
    check_split,
    check_targets,
    evaluate,
    format_table,
    make_splits,
    precision_at,
    score_predictions,
)
from surrogate.errors import NasscoutError

SMALL = {"xgb": {"n_members": 2, "n_estimators": 60}}


@pytest.fixture(scope="module")
def small_result(nb201):
    spec = EvalSpec(
        predictors=("params", "zen", "xgb"),
        train_sizes=(20, 10),
        test_size=60,
        seeds=2,
        first_seed=3,
        options=SMALL,
    )
    return evaluate(spec)


def test_splits_are_disjoint_nested_and_seeded():
    test, trains = make_splits(1000, (10, 50, 200), 100, seed=4)
    assert len(test) == 100 and len(np.unique(test)) == 100
    for n, tr in trains.items():
        assert len(tr) == n and not np.intersect1d(tr, test).size
    assert np.array_equal(trains[50][:10], trains[10])  # nested prefixes
    again = make_splits(1000, (10, 50, 200), 100, seed=4)
    assert np.array_equal(again[0], test)
    assert not np.array_equal(make_splits(1000, (10,), 100, seed=5)[0], test)


def test_metrics_on_known_cases():
    y = np.arange(20, dtype=float)
    perfect = score_predictions(y, y, np.full(20, 0.1))
    assert perfect["kendalltau"] == pytest.approx(1.0) and perfect["spearman"] == pytest.approx(1.0)
    assert (
        perfect["mae"] == 0 and perfect["precision_at_10"] == 1.0 and perfect["coverage90"] == 1.0
    )
    reverse = score_predictions(y, -y, np.zeros(20))
    assert reverse["kendalltau"] == pytest.approx(-1.0) and reverse["precision_at_10"] == 0.0
    const = score_predictions(y, np.full(20, 5.0), np.full(20, 100.0))
    assert math.isnan(const["kendalltau"]) and const["coverage90"] == 1.0
    # coverage: |error| = 1 is inside a 90% interval of std 1 (1.645) but not of std 0.5 (0.82)
    assert score_predictions(y, y + 1, np.ones(20))["coverage90"] == 1.0
    assert score_predictions(y, y + 1, np.full(20, 0.5))["coverage90"] == 0.0
    assert precision_at(np.arange(100.0), np.r_[np.arange(95.0), -np.ones(5)]) == 0.5


def test_harness_rows_and_determinism(small_result, nb201):
    rows = small_result.rows
    assert len(rows) == 3 * 2 * 2
    assert {r["seed"] for r in rows} == {3, 4}
    assert [r["train_size"] for r in rows[:4]] == [10, 10, 20, 20]  # sizes sorted
    for r in rows:
        assert -1 <= r["kendalltau"] <= 1 and 0 <= r["precision_at_10"] <= 1
        assert 0 <= r["coverage90"] <= 1 and r["mae"] >= 0 and r["n_test"] == 60
    again = evaluate(small_result.spec)
    metrics = ("kendalltau", "spearman", "pearson", "mae", "precision_at_10", "coverage90")
    for a, b in zip(rows, again.rows):
        assert [a[m] for m in metrics] == [b[m] for m in metrics]
    # proxies rank without training: their tau does not depend on the training-set size
    p = [r["kendalltau"] for r in rows if r["predictor"] == "params" and r["seed"] == 3]
    assert p[0] == p[1]


def test_summary_fields_and_files(small_result, tmp_path):
    summary = small_result.summary()
    assert len(summary) == 6
    need = {
        "predictor", "train_size", "n_seeds", "kendalltau_mean", "kendalltau_std", "spearman_mean",
        "mae_mean", "precision_at_10_mean", "coverage90_mean", "fit_time_s", "query_time_s",
    }  # fmt: skip
    assert need <= set(summary[0])
    assert all(s["n_seeds"] == 2 for s in summary)
    out = small_result.write(tmp_path / "ev")
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 12 and {"predictor", "train_size", "seed", "kendalltau"} <= set(scores)
    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == 12 * 60
    loaded = json.loads((out / "summary.json").read_text())
    assert loaded[0]["predictor"] == "params"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["target"] == "valid_acc@200" and meta["cells_available"] == 15625
    assert meta["cell_features"] == ["params", "flops", "zen"]
    for png in ("tau_vs_train_size.png", "scatter_params.png", "scatter_xgb.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(out.glob("*.tmp"))
    assert "params" in format_table(summary)


def test_predictions_match_the_benchmark_targets(small_result, nb201):
    p = small_result.predictions
    idx = np.concatenate(p["index"])
    y = np.concatenate(p["y_true"])
    assert np.allclose(y, nb201.query(idx, dataset="cifar10", seed="mean").valid_acc)


def test_xgb_quality_floor_through_the_harness(nb201):
    spec = EvalSpec(predictors=("xgb", "params"), train_sizes=(209,), test_size=200, seeds=2)
    summary = {s["predictor"]: s for s in evaluate(spec).summary()}
    assert summary["xgb"]["kendalltau_mean"] >= 0.5
    assert summary["params"]["kendalltau_mean"] >= 0.45
    assert summary["xgb"]["mae_mean"] < summary["params"]["mae_mean"]


def test_cells_and_targets_from_a_file_are_the_pool():
    rng = np.random.default_rng(0)
    cells = rng.choice(15625, size=80, replace=False)
    y = rng.normal(80, 5, size=80)
    spec = EvalSpec(
        predictors=("params",), train_sizes=(20,), test_size=50, seeds=1, cells=cells, targets=y
    )
    res = evaluate(spec)
    assert res.meta["cells_available"] == 80
    got = np.concatenate(res.predictions["index"])
    assert np.isin(got, cells).all()


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"train_sizes": (20000,)}, "larger than the search space"),
        ({"train_sizes": (15610,)}, "train and test must not overlap"),
        ({"predictors": ("params", "oracle")}, "unknown predictor 'oracle'"),
        ({"predictors": ("params", "params")}, "listed twice"),
        ({"predictors": ()}, "no predictors"),
        ({"train_sizes": (0,)}, "train size 0"),
        ({"test_size": 3}, "test size 3"),
        ({"seeds": 0}, "number of seeds 0"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        ({"options": {"gp": {"n_restarts": 1}}}, "options given for 'gp'"),
    ],
)
def test_bad_specs_fail_with_one_line(kwargs, needle):
    base = {"predictors": ("params",), "train_sizes": (10,), "test_size": 20, "seeds": 1}
    with pytest.raises(NasscoutError, match=needle) as err:
        evaluate(EvalSpec(**{**base, **kwargs}))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "targets,needle",
    [
        (np.array([]), "empty"),
        (np.array([1.0, np.nan, 3.0]), "NaN"),
        (np.full(5, 93.0), "constant"),
    ],
)
def test_bad_targets(targets, needle):
    with pytest.raises(NasscoutError, match=needle):
        check_targets(targets)
    if len(targets):
        cells = np.arange(len(targets))
        spec = EvalSpec(predictors=("params",), train_sizes=(1,), test_size=10, seeds=1)
        with pytest.raises(NasscoutError, match=needle):
            evaluate(EvalSpec(**{**spec.__dict__, "cells": cells, "targets": targets}))


def test_overlap_and_duplicates_are_refused():
    with pytest.raises(NasscoutError, match="overlap in 1 cells"):
        check_split(np.array([1, 2, 3]), np.array([3, 4]))
    with pytest.raises(NasscoutError, match="appears twice"):
        check_split(np.array([1, 1]), np.array([4]))
    spec = EvalSpec(
        predictors=("params",),
        train_sizes=(5,),
        test_size=10,
        seeds=1,
        cells=np.r_[np.arange(20), 7],
        targets=np.arange(21.0),
    )
    with pytest.raises(NasscoutError, match="appears twice"):
        evaluate(spec)
