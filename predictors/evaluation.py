"""The predictor evaluation harness, following NASLib's protocol so a number here means the same as in a paper.

Per seed, the cells with a known target are shuffled with ``numpy.random.default_rng(seed)``; the first
``test_size`` form the test set and the training sets are prefixes of the rest (so train and test never
overlap, and the training set at 56 cells contains the one at 23). The target is the benchmark's validation
metric at its longest fidelity, averaged over the recorded seeds (NB201: the 200-epoch ``valid_acc``). Any
tabular benchmark works (``nb201``, ``transnas-micro``, ``nasbench-graph``, a nasscout .h5 file): the
predictors are built on the benchmark's space, and the free features (``params``/``flops``/``zen``) are
the ones that benchmark has (``predictors.zerocost.applicable_proxies``; the others are left out, with a
line in the log). Every predictor
sees the same splits (a paired comparison) and is seeded with the split's seed. Metrics per predictor x train
size x seed: Kendall tau (tau-b), Spearman rho, Pearson r, MAE, precision@10 (overlap of the predicted and
true top 10% of the test cells), coverage of the predicted 90% interval ``mean +- 1.645 std``, fit time and
query time per cell. For synflow/jacov the query time is what scoring a cell from scratch costs (timed once per
run on 5 test cells), not the cache lookup that usually answers.

Metrics are in ``predictors.metrics``; the files and plots ``write`` produces in ``predictors.eval_report``.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Predictor
from predictors.eval_data import (
    _positive_int,
    check_split,
    check_targets,
    feature_source,
    pool_space,
    target_pool,
)
from predictors.eval_report import format_table, json_dumps, stderr_log
from predictors.metrics import METRICS, precision_at, score_predictions, summarise
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

DEFAULT_PREDICTORS: tuple[str, ...] = (
    "lstm",
    "gp",
    "xgb",
    "mlp-ensemble",
    "rf",
    "gin",
    "params",
    "flops",
    "zen",
    "synflow",
    "jacov",
)
DEFAULT_TRAIN_SIZES: tuple[int, ...] = (10, 23, 56, 135, 209, 500)
QUICK_TRAIN_SIZES: tuple[int, ...] = (10, 56, 209)
QUICK_SEEDS = 2
DEFAULT_FEATURES: tuple[str, ...] = ("params", "flops", "zen")
MIN_TEST_SIZE = 10
UNCACHED_PROBE = 5  # test cells a cached proxy is re-scored on, once per run, to time a real query


@dataclass(frozen=True)
class EvalSpec:
    """What to evaluate; ``cells``/``targets`` restrict the pool to given cells (targets from a file)."""

    predictors: tuple[str, ...] = DEFAULT_PREDICTORS
    train_sizes: tuple[int, ...] = DEFAULT_TRAIN_SIZES
    test_size: int = 200
    seeds: int = 5
    first_seed: int = 0
    benchmark: str = "nb201"
    dataset: str = "cifar10"
    features: tuple[str, ...] = DEFAULT_FEATURES
    quick: bool = False
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cells: np.ndarray | None = None
    targets: np.ndarray | None = None
    space: SearchSpace | None = (
        None  # the cells' space when cells and targets are given (else the benchmark's)
    )


def available_predictors() -> list[str]:
    """Built-in predictors, then those of installed plugins (entry points)."""
    from predictors.registry import predictor_names

    return predictor_names()


def default_predictors(benchmark: str | None = None, dataset: str | None = None) -> tuple[str, ...]:
    """The issue's predictor list, restricted to the ones registered in this installation and, given a
    benchmark and dataset, to the proxies that exist there (every trained predictor works everywhere)."""
    from predictors.registry import predictor_class
    from predictors.zerocost import PROXIES

    have = set(available_predictors())
    names = tuple(p for p in DEFAULT_PREDICTORS if p in have) + tuple(
        p for p in available_predictors() if p not in DEFAULT_PREDICTORS
    )
    if benchmark is None or dataset is None:
        return names
    space = pool_space(EvalSpec(benchmark=benchmark))
    _, proxies = feature_source(benchmark, space, dataset)
    return tuple(
        p for p in names if predictor_class(p).needs_training or p in proxies or p not in PROXIES
    )


def _check_spec(spec: EvalSpec, n_available: int, space: SearchSpace) -> None:
    if not spec.predictors:
        raise NasscoutError("no predictors given; accepted: " + ", ".join(available_predictors()))
    from predictors.registry import is_predictor_name, predictor_class

    have = available_predictors()
    for name in spec.predictors:
        if not is_predictor_name(name):
            raise NasscoutError(
                f"unknown predictor {name!r}; accepted: {', '.join(have)}, or package.module:Class"
            )
        predictor_class(name)  # import every model now: a broken one fails before any work
    dup = [p for p in spec.predictors if spec.predictors.count(p) > 1]
    if dup:
        raise NasscoutError(f"predictor {dup[0]!r} is listed twice; list each predictor once")
    stray = [k for k in spec.options if k not in spec.predictors]
    if stray:
        raise NasscoutError(
            f"options given for {stray[0]!r}, which is not evaluated; accepted: "
            f"{', '.join(spec.predictors)}"
        )
    if not spec.train_sizes:
        raise NasscoutError("no train sizes given; accepted: positive integers, e.g. 10,56,209")
    sizes = [_positive_int("train size", n) for n in spec.train_sizes]
    if (
        min(sizes) < 2
    ):  # like `predictors fit`: one cell's targets are constant, nothing to learn a rank
        raise NasscoutError(
            f"train size {min(sizes)} is too small; accepted: at least 2 cells (a single cell's "
            "target is constant, so no predictor can be fitted or ranked on it)"
        )
    test = _positive_int("test size", spec.test_size)
    if test < MIN_TEST_SIZE:
        raise NasscoutError(f"test size {test} is too small; accepted: at least {MIN_TEST_SIZE}")
    _positive_int("number of seeds", spec.seeds)
    if isinstance(spec.first_seed, bool) or not isinstance(spec.first_seed, (int, np.integer)):
        raise NasscoutError(f"first seed {spec.first_seed!r} is invalid; accepted: an integer >= 0")
    if spec.first_seed < 0:
        raise NasscoutError(f"first seed {spec.first_seed} is invalid; accepted: an integer >= 0")
    big = max(sizes)
    if big >= space.n_cells:
        raise NasscoutError(
            f"train size {big} is larger than the search space allows ({space.n_cells:,} cells, and "
            f"{test} must be left for testing)"
        )
    if big + test > n_available:
        raise NasscoutError(
            f"train size {big} + test size {test} = {big + test} cells, but only {n_available:,} cells "
            "with targets are available; train and test must not overlap, so use smaller sizes"
        )


# ---- running ----------------------------------------------------------------------------------------


def make_splits(
    n_pool: int, sizes: Sequence[int], test_size: int, seed: int
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Positions (into the pool) of the test set and of each nested training set for one seed."""
    perm = np.random.default_rng(seed).permutation(n_pool)
    test = perm[:test_size]
    rest = perm[test_size:]
    return test, {n: rest[:n] for n in sizes}


def build_predictor(
    name: str,
    *,
    seed: int,
    dataset: str,
    features: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    quick: bool = False,
    progress: bool = False,
    space: SearchSpace | None = None,
    benchmark: str | None = None,
) -> Predictor:
    """A fresh predictor on ``space``, given the dataset, the benchmark and the free cell features when its
    constructor takes them.

    ``quick`` applies the class's ``quick_options`` (cheaper settings a model may declare) before ``options``.
    """
    from predictors.registry import make_predictor, predictor_class

    cls = predictor_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    opts: dict[str, Any] = {}
    if quick:
        opts.update(getattr(cls, "quick_options", {}) or {})
    if "dataset" in accepted:
        opts["dataset"] = dataset
    if space is not None and "space" in accepted:
        opts["space"] = space
    if benchmark is not None and "benchmark" in accepted:
        opts["benchmark"] = benchmark
    if "cell_features" in accepted and features is not None and features.shape[1]:
        opts["cell_features"] = features
    if progress and "progress" in accepted:
        opts["progress"] = True
    opts.update(options or {})
    return make_predictor(name, seed=seed, **opts)


@dataclass
class EvalResult:
    spec: EvalSpec
    rows: list[dict[str, Any]]
    predictions: dict[str, list[np.ndarray]]
    meta: dict[str, Any]

    def summary(self) -> list[dict[str, Any]]:
        """One object per predictor x train size: means and standard deviations over seeds."""
        return summarise(self.rows)

    def write(self, out_dir: str | os.PathLike) -> Path:
        """All result files into ``out_dir`` (see ``predictors.eval_report``)."""
        from predictors.eval_report import write_result

        return write_result(self, out_dir)


def evaluate(spec: EvalSpec, *, log: Callable[[str], None] | None = None) -> EvalResult:
    """Run the protocol; ``log`` receives one line per predictor x train size as results come in."""
    from predictors.io import library_versions
    from predictors.registry import call_model, plugin_record
    from predictors.zerocost import (
        NETWORK_PROXIES,
        PROXY_CLASSES,
        ProxyCache,
        cell_features,
        dataset_name,
    )

    wall0 = time.perf_counter()
    space = pool_space(spec)
    cells, y, prov = target_pool(spec)
    _check_spec(spec, len(cells), space)
    sizes = sorted(set(int(n) for n in spec.train_sizes))
    seeds = list(range(int(spec.first_seed), int(spec.first_seed) + int(spec.seeds)))
    splits = {s: make_splits(len(cells), sizes, spec.test_size, s) for s in seeds}
    for test, trains in splits.values():
        check_split(cells[trains[sizes[-1]]], cells[test])
    dataset = prov.get("dataset", spec.dataset)
    source, have = feature_source(spec.benchmark, space, dataset)
    show_progress = log is not None and sys.stderr.isatty()

    def make(name: str, seed: int, features: np.ndarray | None) -> Predictor:
        return build_predictor(
            name,
            seed=seed,
            dataset=dataset,
            features=features,
            options=spec.options.get(name),
            quick=spec.quick,
            progress=show_progress,
            space=space,
            benchmark=source,
        )

    for name in spec.predictors:  # a proxy this space or benchmark lacks says so before any work
        make(name, 0, None).check_applicable()
    for p in spec.features:  # synflow/jacov on a non-NB201 space: the proxy's own one-line refusal
        if p in NETWORK_PROXIES and p not in have:
            PROXY_CLASSES[p](space=space, dataset=dataset, benchmark=source).check_applicable()
    wanted = [p for p in spec.features if p in have]
    dropped = [p for p in spec.features if p not in have]
    if dropped and log is not None:
        log(
            f"nasscout: no {', '.join(dropped)} for {dataset} in {spec.benchmark}; trained predictors "
            f"get {', '.join(wanted) or 'no free cell features'}"
        )
    features = None
    names: list[str] = []
    if wanted:
        used = np.unique(
            np.concatenate(
                [cells[t] for t, _ in splits.values()]
                + [cells[tr[sizes[-1]]] for _, tr in splits.values()]
            )
        )
        for p in wanted:  # computed for the cells of this run only (cached for the next)
            if p in NETWORK_PROXIES:
                ProxyCache(p, dataset_name(dataset)).values(used, progress=show_progress)
        features, names = cell_features(dataset, proxies=wanted, benchmark=source)
    rows: list[dict[str, Any]] = []
    uncached_cost: dict[str, float] = {}
    preds: dict[str, list[np.ndarray]] = {
        k: [] for k in ("predictor", "train_size", "seed", "index", "y_true", "y_pred", "y_std")
    }
    for name in spec.predictors:
        for n in sizes:
            t0 = time.perf_counter()
            for s in seeds:
                test, trains = splits[s]
                tr = trains[n]
                model = make(name, s, features)
                start = time.perf_counter()
                call_model(model, "fit", cells[tr], y[tr])
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                mean, std = call_model(model, "predict", cells[test], return_std=True)
                query_s = (time.perf_counter() - start) / len(test)
                if hasattr(model, "time_uncached"):  # a cache answered: report what scoring costs
                    if name not in uncached_cost:
                        uncached_cost[name] = model.time_uncached(cells[test[:UNCACHED_PROBE]])
                    query_s = max(query_s, uncached_cost[name])
                row = {"predictor": name, "train_size": n, "seed": s, "n_test": len(test)}
                row.update(score_predictions(y[test], mean, std))
                row.update(fit_time_s=fit_s, query_time_s=query_s)
                rows.append(row)
                for k, v in (
                    ("predictor", [name] * len(test)),
                    ("train_size", np.full(len(test), n)),
                    ("seed", np.full(len(test), s)),
                    ("index", cells[test]),
                    ("y_true", y[test]),
                    ("y_pred", mean),
                    ("y_std", std),
                ):
                    preds[k].append(np.asarray(v))
            if log is not None:
                taus = np.array([r["kendalltau"] for r in rows[-len(seeds) :]], dtype=float)
                cov = np.mean([r["coverage90"] for r in rows[-len(seeds) :]])
                sd = np.nanstd(taus, ddof=1) if np.isfinite(taus).sum() > 1 else 0.0
                log(
                    f"{name:13s} n={n:<4d} tau {np.nanmean(taus):6.3f} +- {sd:.3f}  "
                    f"cover90 {cov:.2f}  ({len(seeds)} seeds, {time.perf_counter() - t0:.1f} s)"
                )
    meta = {
        "benchmark": prov.get("benchmark", spec.benchmark),
        "dataset": dataset,
        "target": prov.get("target"),
        "target_provenance": prov,
        "predictors": list(spec.predictors),
        "train_sizes": sizes,
        "test_size": int(spec.test_size),
        "seeds": len(seeds),
        "first_seed": int(spec.first_seed),
        "seed_list": seeds,
        "cells_available": int(len(cells)),
        "cell_features": names,
        "space": space.name,
        "quick": bool(spec.quick),
        "options": spec.options,
        "plugins": plugin_record(spec.predictors),
        "protocol": "NASLib: per seed a random split into disjoint test and nested train sets",
        "versions": library_versions(),
        "wall_time_s": round(time.perf_counter() - wall0, 3),
    }
    return EvalResult(spec=spec, rows=rows, predictions=preds, meta=meta)


__all__ = [  # metrics, files and text live next door; these names stay importable from here
    "METRICS",
    "EvalResult",
    "EvalSpec",
    "build_predictor",
    "check_split",
    "check_targets",
    "evaluate",
    "feature_source",
    "format_table",
    "json_dumps",
    "make_splits",
    "pool_space",
    "precision_at",
    "score_predictions",
    "stderr_log",
    "target_pool",
]
