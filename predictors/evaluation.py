"""The predictor evaluation harness, following NASLib's protocol so a number here means the same as in a paper.

Per seed, the cells with a known target are shuffled with ``numpy.random.default_rng(seed)``; the first
``test_size`` form the test set and the training sets are prefixes of the rest (so train and test never
overlap, and the training set at 56 cells contains the one at 23). The target is the mean 200-epoch validation
accuracy (NB201's ``valid_acc`` at the longest fidelity, averaged over the recorded seeds). Every predictor
sees the same splits (a paired comparison) and is seeded with the split's seed. Metrics per predictor x train
size x seed: Kendall tau (tau-b), Spearman rho, Pearson r, MAE, precision@10 (overlap of the predicted and
true top 10% of the test cells), coverage of the predicted 90% interval ``mean +- 1.645 std``, fit time and
query time per cell. For synflow/jacov the query time is what scoring a cell from scratch costs (timed once per
run on 5 test cells), not the cache lookup that usually answers.

Outputs (``write``): ``scores.csv`` (one row per predictor x train size x seed), ``predictions.csv`` (one row
per test cell), ``summary.json`` (aggregated, one object per predictor x train size), ``meta.json``
(configuration and versions), ``tau_vs_train_size.png`` and ``scatter_<predictor>.png``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Z90, Predictor
from surrogate.atomic import atomic_path, atomic_write
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, NB201Space

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
METRICS: tuple[str, ...] = (
    "kendalltau",
    "spearman",
    "pearson",
    "mae",
    "precision_at_10",
    "coverage90",
    "fit_time_s",
    "query_time_s",
)
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


def available_predictors() -> list[str]:
    from predictors.registry import PREDICTORS

    return list(PREDICTORS)


def default_predictors() -> tuple[str, ...]:
    """The issue's predictor list, restricted to the ones registered in this installation."""
    have = set(available_predictors())
    return tuple(p for p in DEFAULT_PREDICTORS if p in have) + tuple(
        p for p in available_predictors() if p not in DEFAULT_PREDICTORS
    )


# ---- checks -------------------------------------------------------------------------------------------


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NasscoutError(f"{name} {value!r} is invalid; accepted: a positive integer")
    return int(value)


def check_targets(y: np.ndarray, what: str = "targets") -> np.ndarray:
    """Targets a predictor can be evaluated or fitted on: non-empty, finite, not all equal."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) == 0:
        raise NasscoutError(f"{what} are empty; accepted: at least 2 cells with accuracies")
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise NasscoutError(
            f"{what} contain {len(bad)} NaN/inf values (first at position {bad[0]}); all must be finite"
        )
    if np.all(y == y[0]):
        raise NasscoutError(
            f"{what} are constant (all {y[0]:g}); ranking metrics need at least two different values"
        )
    return y


def check_split(train: np.ndarray, test: np.ndarray) -> None:
    """Train and test must be disjoint sets of distinct cells."""
    for name, cells in (("train", train), ("test", test)):
        uniq, counts = np.unique(cells, return_counts=True)
        if np.any(counts > 1):
            raise NasscoutError(
                f"cell {int(uniq[counts > 1][0])} appears twice in the {name} set; cells must be distinct"
            )
    both = np.intersect1d(train, test)
    if len(both):
        raise NasscoutError(
            f"train and test overlap in {len(both)} cells (e.g. {int(both[0])}); they must be disjoint"
        )


def target_pool(spec: EvalSpec) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(cells, targets, provenance) the splits are drawn from; cells without a target are left out."""
    from surrogate.registry import load_benchmark

    space = NB201Space()
    if spec.cells is not None and spec.targets is not None:
        cells = space.indices(np.asarray(spec.cells, dtype=np.int64))
        y = check_targets(spec.targets)
        if len(cells) != len(y):
            raise NasscoutError(f"got {len(cells)} cells but {len(y)} targets; they must match")
        check_split(cells, np.empty(0, dtype=np.int64))
        return cells, y, {"source": "cells file", "target": "given"}
    bench = load_benchmark(spec.benchmark)
    dataset = bench.dataset(spec.dataset)
    cells = bench.cells if spec.cells is None else space.indices(np.asarray(spec.cells))
    if spec.cells is not None:
        check_split(cells, np.empty(0, dtype=np.int64))
    rec = bench.query(cells, dataset=dataset, seed="mean")
    y = rec.valid_acc
    known = np.isfinite(y)
    if spec.cells is not None and not known.all():
        missing = int(cells[~known][0])
        raise NasscoutError(
            f"{int((~known).sum())} given cells have NaN targets in {bench.name} (e.g. cell {missing}); "
            "all must be known"
        )
    cells, y = cells[known], y[known]
    if len(y) == 0:
        raise NasscoutError(
            f"benchmark {bench.name!r} has no {dataset} accuracies; targets are empty"
        )
    check_targets(y, f"{dataset} targets of {bench.name}")
    prov = {
        "source": str(bench.path),
        "benchmark": bench.name,
        "dataset": dataset,
        "target": f"valid_acc@{rec.fidelity}",
        "target_seed": "mean",
        "fidelity": int(rec.fidelity),
    }
    return cells, y, prov


def _check_spec(spec: EvalSpec, n_available: int) -> None:
    if not spec.predictors:
        raise NasscoutError("no predictors given; accepted: " + ", ".join(available_predictors()))
    from predictors.registry import predictor_class

    have = available_predictors()
    for name in spec.predictors:
        if name not in have:
            raise NasscoutError(f"unknown predictor {name!r}; accepted: {', '.join(have)}")
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
    if big >= N_CELLS:
        raise NasscoutError(
            f"train size {big} is larger than the search space allows ({N_CELLS:,} cells, and "
            f"{test} must be left for testing)"
        )
    if big + test > n_available:
        raise NasscoutError(
            f"train size {big} + test size {test} = {big + test} cells, but only {n_available:,} cells "
            "with targets are available; train and test must not overlap, so use smaller sizes"
        )


# ---- metrics ----------------------------------------------------------------------------------------


def precision_at(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.1) -> float:
    """Overlap of the predicted and the true top ``fraction`` of cells (NASLib's precision@k)."""
    k = max(1, int(round(fraction * len(y_true))))
    top_true = np.argsort(-y_true, kind="stable")[:k]
    top_pred = np.argsort(-y_pred, kind="stable")[:k]
    return len(np.intersect1d(top_true, top_pred)) / k


def score_predictions(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """Ranking, error and calibration metrics of one prediction of a test set."""
    from scipy.stats import kendalltau, pearsonr, spearmanr

    y_true = np.asarray(y_true, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    out: dict[str, float] = {}
    finite = bool(np.all(np.isfinite(mean)))
    varying = finite and np.ptp(mean) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input -> NaN, reported as such
        out["kendalltau"] = float(kendalltau(y_true, mean).statistic) if varying else math.nan
        out["spearman"] = float(spearmanr(y_true, mean).statistic) if varying else math.nan
        out["pearson"] = float(pearsonr(y_true, mean).statistic) if varying else math.nan
    out["mae"] = float(np.mean(np.abs(mean - y_true))) if finite else math.nan
    out["precision_at_10"] = precision_at(y_true, mean) if finite else math.nan
    ok = np.isfinite(std)
    out["coverage90"] = float(np.mean(ok & (np.abs(y_true - mean) <= Z90 * np.where(ok, std, 0))))
    return out


# ---- running ----------------------------------------------------------------------------------------


def make_splits(
    n_pool: int, sizes: Sequence[int], test_size: int, seed: int
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Positions (into the pool) of the test set and of each nested training set for one seed."""
    perm = np.random.default_rng(seed).permutation(n_pool)
    test = perm[:test_size]
    rest = perm[test_size:]
    return test, {n: rest[:n] for n in sizes}


def has_free_features(dataset: str) -> bool:
    """Whether params/flops/zen exist for ``dataset`` (the NB201 datasets; not e.g. our own trainings)."""
    from surrogate.costmodel import DATASET_CLASSES

    return dataset in DATASET_CLASSES


def build_predictor(
    name: str,
    *,
    seed: int,
    dataset: str,
    features: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    quick: bool = False,
    progress: bool = False,
) -> Predictor:
    """A fresh predictor, given the dataset and the free cell features when its constructor takes them.

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
        out = []
        keys: list[tuple[str, int]] = []
        for r in self.rows:
            k = (r["predictor"], r["train_size"])
            if k not in keys:
                keys.append(k)
        for pred, size in keys:
            rows = [r for r in self.rows if r["predictor"] == pred and r["train_size"] == size]
            item: dict[str, Any] = {"predictor": pred, "train_size": size, "n_seeds": len(rows)}
            for m in METRICS:
                vals = np.array([r[m] for r in rows], dtype=np.float64)
                ok = vals[np.isfinite(vals)]
                mean = float(ok.mean()) if len(ok) else math.nan
                sd = float(ok.std(ddof=1)) if len(ok) > 1 else (0.0 if len(ok) else math.nan)
                if m in ("fit_time_s", "query_time_s"):
                    item[m] = mean
                else:
                    item[f"{m}_mean"] = mean
                    item[f"{m}_std"] = sd
            out.append(item)
        return out

    def write(self, out_dir: str | os.PathLike) -> Path:
        """All result files into ``out_dir`` (each written atomically)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        import pandas as pd

        _atomic_text(out / "scores.csv", pd.DataFrame(self.rows).to_csv(index=False))
        preds = pd.DataFrame(
            {k: np.concatenate(v) if v else np.empty(0) for k, v in self.predictions.items()}
        )
        _atomic_text(out / "predictions.csv", preds.to_csv(index=False))
        _atomic_text(out / "summary.json", json_dumps(self.summary()))
        _atomic_text(out / "meta.json", json_dumps(self.meta))
        plot_tau(self.summary(), out / "tau_vs_train_size.png", title=self._title())
        for name in dict.fromkeys(r["predictor"] for r in self.rows):
            plot_scatter(preds, name, out / f"scatter_{name}.png", title=self._title())
        return out

    def _title(self) -> str:
        m = self.meta
        return f"{m['benchmark']} {m['dataset']}, {m['test_size']} test cells, {m['seeds']} seeds"


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.generic):
        return _nan_to_none(obj.item())
    return obj


def json_dumps(obj: Any) -> str:
    """JSON with NaN written as null (strict JSON readers reject NaN)."""
    return json.dumps(_nan_to_none(obj), indent=2, allow_nan=False) + "\n"


def _atomic_text(path: Path, text: str) -> None:
    atomic_write(path, text)


def evaluate(spec: EvalSpec, *, log: Callable[[str], None] | None = None) -> EvalResult:
    """Run the protocol; ``log`` receives one line per predictor x train size as results come in."""
    from predictors.io import library_versions
    from predictors.zerocost import NETWORK_PROXIES, ProxyCache, cell_features

    wall0 = time.perf_counter()
    cells, y, prov = target_pool(spec)
    _check_spec(spec, len(cells))
    sizes = sorted(set(int(n) for n in spec.train_sizes))
    seeds = list(range(int(spec.first_seed), int(spec.first_seed) + int(spec.seeds)))
    splits = {s: make_splits(len(cells), sizes, spec.test_size, s) for s in seeds}
    for test, trains in splits.values():
        check_split(cells[trains[sizes[-1]]], cells[test])
    dataset = prov.get("dataset", spec.dataset)
    features = None
    names: list[str] = []
    if spec.features and not has_free_features(dataset):
        if log is not None:
            log(f"nasscout: no free cell features for {dataset}; trained predictors get none")
    elif spec.features:
        needed = [p for p in spec.features if p in NETWORK_PROXIES]
        used = np.unique(
            np.concatenate(
                [cells[t] for t, _ in splits.values()]
                + [cells[tr[sizes[-1]]] for _, tr in splits.values()]
            )
        )
        for p in needed:  # computed for the cells of this run only (cached for the next)
            ProxyCache(p, dataset).values(used, progress=log is not None and sys.stderr.isatty())
        features, names = cell_features(dataset, proxies=spec.features)
    rows: list[dict[str, Any]] = []
    uncached_cost: dict[str, float] = {}
    show_progress = log is not None and sys.stderr.isatty()
    preds: dict[str, list[np.ndarray]] = {
        k: [] for k in ("predictor", "train_size", "seed", "index", "y_true", "y_pred", "y_std")
    }
    for name in spec.predictors:
        for n in sizes:
            t0 = time.perf_counter()
            for s in seeds:
                test, trains = splits[s]
                tr = trains[n]
                model = build_predictor(
                    name,
                    seed=s,
                    dataset=dataset,
                    features=features,
                    options=spec.options.get(name),
                    quick=spec.quick,
                    progress=show_progress,
                )
                start = time.perf_counter()
                model.fit(cells[tr], y[tr])
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                mean, std = model.predict(cells[test], return_std=True)
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
        "quick": bool(spec.quick),
        "options": spec.options,
        "protocol": "NASLib: per seed a random split into disjoint test and nested train sets",
        "versions": library_versions(),
        "wall_time_s": round(time.perf_counter() - wall0, 3),
    }
    return EvalResult(spec=spec, rows=rows, predictions=preds, meta=meta)


# ---- plots ------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_fig(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_tau(summary: list[dict[str, Any]], path: Path, *, title: str = "") -> None:
    """Kendall tau (mean +- std over seeds) against training-set size, one line per predictor."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    from predictors.registry import predictor_class

    names = list(dict.fromkeys(r["predictor"] for r in summary))
    cmap = plt.get_cmap("tab20")
    for i, name in enumerate(names):
        rs = [r for r in summary if r["predictor"] == name]
        x = [r["train_size"] for r in rs]
        m = np.array([r["kendalltau_mean"] for r in rs], dtype=float)
        sd = np.array([r["kendalltau_std"] for r in rs], dtype=float)
        free = not predictor_class(name).needs_training
        color = cmap((2 * i) % 20 + (2 * i) // 20)  # the 10 dark shades first, then the light ones
        ax.errorbar(
            x,
            m,
            yerr=sd,
            label=name,
            color=color,
            marker="o",
            ms=4,
            capsize=2,
            linestyle="--" if free else "-",
            linewidth=1.2,
        )
    ax.set_xscale("log")
    sizes = sorted({r["train_size"] for r in summary})
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training cells")
    ax.set_ylabel("Kendall tau on test cells")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="dashed: no training")
    _save_fig(fig, path)
    plt.close(fig)


def plot_scatter(preds: Any, name: str, path: Path, *, title: str = "") -> None:
    """Predicted vs true accuracy at the largest training size, all seeds pooled; right: the top 90%."""
    plt = _pyplot()
    d = preds[preds["predictor"] == name]
    n = int(d["train_size"].max())
    d = d[d["train_size"] == n]
    from scipy.stats import kendalltau

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taus = [kendalltau(g["y_true"], g["y_pred"]).statistic for _, g in d.groupby("seed")]
    tau = float(np.nanmean(taus)) if len(taus) else math.nan
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.6))
    cut = float(np.quantile(d["y_true"], 0.1))
    for ax, part, label in (
        (axes[0], d, "all test cells"),
        (axes[1], d[d["y_true"] >= cut], f"true accuracy >= {cut:.1f}% (top 90%)"),
    ):
        ax.errorbar(
            part["y_true"],
            part["y_pred"],
            yerr=Z90 * part["y_std"],
            fmt="o",
            ms=2.5,
            alpha=0.35,
            elinewidth=0.5,
            color="tab:blue",
            ecolor="tab:gray",
        )
        lo, hi = float(part["y_true"].min()), float(part["y_true"].max())
        ax.plot([lo, hi], [lo, hi], color="k", linewidth=0.8)
        ax.set_xlabel("true accuracy (%)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("predicted accuracy (%), 90% interval")
    fig.suptitle(
        f"{name}, {n} training cells (mean tau over seeds {tau:.3f}; all seeds shown) - {title}",
        fontsize=10,
    )
    _save_fig(fig, path)
    plt.close(fig)


def format_table(summary: list[dict[str, Any]]) -> str:
    """A fixed-width text table of the summary, for the terminal."""
    head = (
        f"{'predictor':13s} {'train':>5s} {'seeds':>5s} {'tau':>13s} {'spearman':>8s} {'pearson':>7s} "
        f"{'mae':>6s} {'prec@10':>7s} {'cover90':>7s} {'fit_s':>7s} {'query_ms':>8s}"
    )
    lines = [head]

    def f(v: float, spec: str) -> str:
        return format(v, spec) if v is not None and math.isfinite(v) else "nan"

    for r in summary:
        tau = f"{f(r['kendalltau_mean'], '.3f')} +- {f(r['kendalltau_std'], '.3f')}"
        lines.append(
            f"{r['predictor']:13s} {r['train_size']:5d} {r['n_seeds']:5d} {tau:>13s} "
            f"{f(r['spearman_mean'], '8.3f')} {f(r['pearson_mean'], '7.3f')} {f(r['mae_mean'], '6.2f')} "
            f"{f(r['precision_at_10_mean'], '7.2f')} {f(r['coverage90_mean'], '7.2f')} "
            f"{f(r['fit_time_s'], '7.3f')} {f(1000 * r['query_time_s'], '8.3f')}"
        )
    return "\n".join(lines)


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
