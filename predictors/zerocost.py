"""Training-free proxies as predictors: ``params``, ``flops``, ``zen``, ``synflow``, ``jacov``.

A proxy ranks cells before anything is trained. Each one here is a :class:`Predictor` with
``needs_training = False``: unfitted, ``predict`` returns the proxy's own score (higher = better); ``fit`` only
calibrates that score to the target with a least-squares line on a fixed increasing scale of the score (slope
kept positive, so the ranking is the proxy's and never learned), which gives predictions in percent, a
meaningful MAE and an OLS prediction interval for the harness's coverage metric.

Scores
------
``params``, ``flops``   log of ``surrogate.costmodel.params_m`` / ``flops_m`` for the dataset's head and input.
``zen``                 the Zen-NAS score stored in the benchmark (``extra(..., field="zen")``), computed by
                        NAS-Bench-Suite-Zero.
``synflow``             log of SynFlow (Tanaka et al. 2020) as NASLib computes it: the network in float64 with
                        absolute weights and BN bypassed, one all-ones input, score = sum over conv/linear
                        weights of ``|w * dL/dw|`` with L = sum of the logits.
``jacov``               the Jacobian covariance score of NASLib (``-sum(log(v + k) + 1 / (v + k))`` over the
                        eigenvalues ``v`` of the correlation matrix of input gradients, ``k = 1e-5``), network in
                        train mode, on one batch of ``batch_size=32`` images as NASLib's zc_config.

NASLib feeds jacov one real training batch (32 CIFAR-10 images); no CIFAR copy is available offline, so the
batch here is 32 real Fashion-MNIST images (drawn with ``seed``, normalised, zero-padded from 28 to 32 pixels
and repeated over 3 channels; 2x2-averaged to 16 pixels for ImageNet16-120). On 60 of NASLib's reference
cells (``benchmarks/bench_eval.py``) real images rank cells better than a seeded Gaussian batch (Kendall tau
with the 200-epoch accuracy 0.57 vs 0.44; NASLib's own CIFAR-10 values: 0.54) and agree with NASLib's values
as well (Spearman 0.81 vs 0.80), so real images are the default; ``batch="random"`` is the data-free
alternative. Synflow is data-free (its input is all ones). Most working cells score close to the maximum,
``-batch_size``; differences there are of the size of float32 rounding in the input gradients (as in NASLib).

Both network proxies score one cell per isomorphism class (its representative), so equivalent cells get
equal scores, and the network's weights are drawn from ``(init_seed, representative)`` alone, so a cell's score
does not depend on which other cells are asked for. Computing them costs ~0.06 s (synflow) and ~0.4 s (jacov)
of CPU per class on one core (6,466 classes); values are cached in ``$NASSCOUT_HOME/zerocost/`` (atomic writes, merged under a lock)
and only the cells asked for are computed. A cell whose output does not depend on its input gets the score
``nan`` internally ("degenerate"), ranked below every working cell.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from predictors.base import Z90, Predictor, output
from predictors.proxy_network import (
    BATCHES,
    CACHE_VERSION,
    NETWORK_PROXIES,
    ProxyCache,
    _torch_threads,
    cache_dir,
    fashion_mnist_path,
    image_batch,
    jacov_score,
    synflow_score,
)
from predictors.proxy_tables import (
    _COLUMN,
    PROXIES,
    _default_benchmark,
    _is_nb201,
    applicable_proxies,
    benchmark_column,
    cell_features,
    dataset_name,
    zen_table,
)
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

NASLIB_FAILED = (
    -1e7
)  # NASLib stores -1e8 for a proxy that failed (degenerate network); below = failed


# ---- the predictors ---------------------------------------------------------------------------------------


class ProxyPredictor(Predictor):
    """A training-free score; ``fit`` only calibrates it to the target units (ranking unchanged).

    Calibration is a least-squares line on ``_calibration_scale(score)`` (a fixed increasing map: identity,
    or a log for scores spanning orders of magnitude). Degenerate cells sit at a floor below every training
    score and below ``_lowest()``, a bound under every working cell's calibrated score, so they rank last
    whatever the training cells were, and the proxy's ranking is independent of the training data.

    ``benchmark`` names the benchmark whose per-cell tables hold the score (default: the one named like the
    space, ``nb201`` for NB201); a proxy the benchmark or space lacks refuses in one line
    (:meth:`check_applicable`), naming the proxies that do apply.
    """

    needs_training: ClassVar[bool] = False
    proxy: ClassVar[str] = ""
    degenerate: ClassVar[
        float
    ] = -1e8  # the unfitted score of degenerate cells (NASLib's convention)

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        dataset: str = "cifar10",
        benchmark: str | None = None,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.dataset = dataset
        self.benchmark = benchmark

    def _benchmark(self) -> str:
        return self.benchmark or _default_benchmark(self._space())

    def _dataset(self) -> str:
        """The canonical dataset name the scores are read for."""
        if _is_nb201(self._space()) and self.proxy != "zen":
            return dataset_name(self.dataset)  # the cost model / network of NB201
        from surrogate.registry import load_benchmark

        return load_benchmark(self._benchmark()).dataset(self.dataset)

    def check_applicable(self) -> None:
        if self.__dict__.get("_cache_applicable"):
            return
        from surrogate.registry import load_benchmark

        network_elsewhere = self.proxy in NETWORK_PROXIES and not _is_nb201(self._space())
        try:
            same = load_benchmark(self._benchmark()).space.name == self._space().name
            if not same and not network_elsewhere:
                raise NasscoutError(
                    f"benchmark {self._benchmark()!r} holds cells of another space than "
                    f"{self._space().name!r}; give proxy {self.proxy!r} the benchmark of its space"
                )
            have = applicable_proxies(self._benchmark(), self.dataset) if same else ()
        except NasscoutError:
            if not network_elsewhere:
                raise
            have = ()  # a space without a benchmark: nothing applies, and the network does not exist
        if self.proxy not in have:
            space = self._space().name
            need = (
                f"the NB201 torch network, which space {space!r} does not have"
                if network_elsewhere
                else f"{_COLUMN.get(self.proxy, 'extra/' + self.proxy)}, which benchmark "
                f"{self._benchmark()!r} does not hold for {self.dataset!r}"
            )
            raise NasscoutError(
                f"proxy {self.proxy!r} needs {need}; proxies that apply there: "
                f"{', '.join(have) or 'none'}"
            )
        self.__dict__["_cache_applicable"] = True

    def score(self, archs: Any) -> np.ndarray:
        """The proxy's own score per cell, higher = better; NaN for degenerate cells."""
        self.check_applicable()
        return self._scores(self._space().indices(archs), self._dataset())

    @abstractmethod
    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        """Scores of cell indices for a canonical dataset name."""

    def _table(self, field: str, dataset: str) -> np.ndarray:
        """A benchmark column over the whole space, read once per predictor (never pickled)."""
        key = f"_cache_{field}"
        table = self.__dict__.get(key)
        if table is None:
            table = self.__dict__[key] = benchmark_column(self._benchmark(), dataset, field)
        return table

    def _calibration_scale(self, s: np.ndarray) -> np.ndarray:
        return s

    def _lowest(self) -> float:
        """A value under the calibration-scale score of every working cell (-inf: no degenerate cells)."""
        return -np.inf

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> ProxyPredictor:
        from scipy.stats import t as student_t

        idx, y = self._check_xy(archs, y)
        s = self._calibration_scale(self.score(idx))
        finite = np.isfinite(s)
        if finite.any():
            lo, hi = float(s[finite].min()), float(s[finite].max())
            self.floor_ = min(lo - max(0.1 * (hi - lo), 1e-6), self._lowest())
        else:
            self.floor_ = min(0.0, self._lowest())
        s = np.where(finite, s, self.floor_)
        n = len(y)
        self.s_mean_ = float(s.mean())
        self.sxx_ = float(np.sum((s - self.s_mean_) ** 2))
        slope = (
            float(np.sum((s - self.s_mean_) * (y - y.mean())) / self.sxx_) if self.sxx_ > 0 else 0.0
        )
        # positive: calibration never reverses the proxy's ranking. The floor is relative to the scales of
        # score and target, so that where the proxy ranks against the target (slope <= 0: e.g. params on
        # some NAS-Bench-Graph splits) distinct scores still give distinct predictions, not float ties
        sd_s = np.sqrt(self.sxx_ / n)
        sd_y = float(np.std(y))
        floor = 1e-6 * sd_y / sd_s if sd_s > 0 and sd_y > 0 else 1e-12
        self.slope_ = max(slope, floor)
        self.intercept_ = float(y.mean() - self.slope_ * self.s_mean_)
        resid = y - (self.intercept_ + self.slope_ * s)
        self.sigma_ = float(np.sqrt(np.sum(resid**2) / (n - 2))) if n > 2 else float(np.std(y))
        # a normal 90% interval with this std equals the OLS t interval on n - 2 degrees of freedom
        self.t_scale_ = float(student_t.ppf(0.95, n - 2) / Z90) if n > 2 else 1.0
        self.n_fit_ = n
        self.fitted_ = True
        return self

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        s = self.score(self._check_predict(archs))
        if not getattr(self, "fitted_", False):
            return output(
                np.where(np.isfinite(s), s, self.degenerate), np.zeros(len(s)), return_std
            )
        s = self._calibration_scale(s)
        s = np.where(np.isfinite(s), s, self.floor_)
        mean = self.intercept_ + self.slope_ * s
        lever = 1.0 / self.n_fit_ + ((s - self.s_mean_) ** 2 / self.sxx_ if self.sxx_ > 0 else 0.0)
        std = self.sigma_ * self.t_scale_ * np.sqrt(1.0 + lever)
        return output(mean, std, return_std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dataset={self.dataset!r}, seed={self.seed})"


class ParamsProxy(ProxyPredictor):
    name = proxy = "params"
    summary = "training-free: log parameter count (NB201: surrogate.costmodel; else the benchmark's params_m)"

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        if not _is_nb201(self._space()):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(self._table("params_m", dataset)[idx])
        from surrogate.costmodel import DATASET_CLASSES, params_m

        return np.log(params_m(idx, n_classes=DATASET_CLASSES[dataset]))


class FlopsProxy(ProxyPredictor):
    name = proxy = "flops"
    summary = "training-free: log FLOPs (NB201: surrogate.costmodel; else the benchmark's flops_m)"

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        if not _is_nb201(self._space()):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(self._table("flops_m", dataset)[idx])
        from surrogate.costmodel import DATASET_CLASSES, DATASET_INPUT_HW, flops_m

        return np.log(
            flops_m(idx, n_classes=DATASET_CLASSES[dataset], input_hw=DATASET_INPUT_HW[dataset])
        )


class ZenProxy(ProxyPredictor):
    name = proxy = "zen"
    summary = "training-free: Zen-NAS score recorded in the benchmark (NB201: NAS-Bench-Suite-Zero)"

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        table = self.__dict__.get("_cache_zen")
        if table is None:
            table = benchmark_column(self._benchmark(), dataset, "zen")
            table[table <= NASLIB_FAILED] = np.nan  # NASLib's -1e8 marks a degenerate network
            self.__dict__["_cache_zen"] = table
        return table[idx]

    def _lowest(self) -> float:
        table = self.__dict__.get("_cache_zen")
        if table is None:
            self.score([0])
            table = self.__dict__["_cache_zen"]
        return float(np.nanmin(table)) - 1.0


class NetworkProxy(ProxyPredictor):
    """A proxy computed by running the NB201 network (cached per cell on disk); NB201 cells only.

    On any other space (TransNAS micro, NAS-Bench-Graph: no NB201 network exists for their cells) fit,
    predict and score refuse in one line naming the proxy, the space and the proxies that apply there.

    The network's weights (and the jacov batch) come from ``init_seed``, not from the predictor's ``seed``,
    so every split of an evaluation reuses one cache, as NASLib scores each cell once. ``fit`` calibrates on
    the first ``max_calibration`` training cells only: the line has two parameters, and every extra cell costs
    a network evaluation.
    """

    quick_options: ClassVar[dict[str, Any]] = {"max_calibration": 20}

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        dataset: str = "cifar10",
        benchmark: str | None = None,
        init_seed: int = 0,
        batch: str = "fashion-mnist",
        batch_size: int = 32,
        max_calibration: int = 100,
        progress: bool = False,
    ) -> None:
        super().__init__(seed=seed, space=space, dataset=dataset, benchmark=benchmark)
        self.init_seed = init_seed
        self.batch = batch
        self.batch_size = batch_size
        self.max_calibration = max_calibration
        self.progress = progress

    def cache(self) -> ProxyCache:
        return ProxyCache(
            self.proxy,
            dataset_name(self.dataset),
            seed=self.init_seed,
            batch=self.batch,
            batch_size=self.batch_size,
        )

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        return self.cache().values(idx, progress=self.progress)

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> NetworkProxy:
        self.check_applicable()
        idx, y = self._check_xy(archs, y)
        m = self.max_calibration
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise NasscoutError(f"max_calibration={m!r} is invalid; accepted: a positive integer")
        super().fit(idx[:m], y[:m])
        return self

    def compute_seconds(self, archs: Any) -> np.ndarray:
        """CPU seconds scoring each cell cost when it was computed (NaN = not cached)."""
        return self.cache().seconds(archs)

    def time_uncached(self, archs: Any) -> float:
        """Wall seconds per cell to score ``archs`` from scratch, bypassing the cache (what a query costs)."""
        self.check_applicable()
        idx = self._space().indices(archs)
        cache = self.cache()
        with _torch_threads(cache.threads):
            if len(idx):
                cache._score(int(idx[0]))  # warm-up: torch's first call pays one-off kernel setup
            start = time.perf_counter()
            for i in idx:
                cache._score(int(i))
        return (time.perf_counter() - start) / max(len(idx), 1)


class SynflowProxy(NetworkProxy):
    name = proxy = "synflow"
    summary = "training-free: log SynFlow of the torch NB201 network (data-free; cached per cell)"
    degenerate = 0.0  # NASLib returns 0 for a zero synflow; every working cell scores > 10

    def _lowest(self) -> float:
        return self.degenerate


class JacovProxy(NetworkProxy):
    name = proxy = "jacov"
    summary = "training-free: Jacobian covariance of the NB201 network on 32 real images (cached per cell)"

    def _calibration_scale(self, s: np.ndarray) -> np.ndarray:
        # jacov <= -batch_size < 0 and spans five orders of magnitude: calibrate on -log(-jacov)
        with np.errstate(invalid="ignore"):
            return -np.log(-s)

    def _lowest(self) -> float:
        # every eigenvalue term log(v + k) + 1 / (v + k) is at most 1 / k = 1e5 (k = 1e-5, v >= 0), so
        # jacov >= -batch_size * 1e5 and -log(-jacov) >= -log(batch_size * 1e5)
        return float(-np.log(self.batch_size * 1e5)) - 0.1


PROXY_CLASSES: dict[str, type[ProxyPredictor]] = {
    c.proxy: c for c in (ParamsProxy, FlopsProxy, ZenProxy, SynflowProxy, JacovProxy)
}


__all__ = [  # the network side lives in predictors.proxy_network; these names stay importable from here
    "BATCHES",
    "CACHE_VERSION",
    "NETWORK_PROXIES",
    "PROXIES",
    "PROXY_CLASSES",
    "ProxyCache",
    "applicable_proxies",
    "benchmark_column",
    "cache_dir",
    "cell_features",
    "dataset_name",
    "zen_table",
    "fashion_mnist_path",
    "image_batch",
    "jacov_score",
    "synflow_score",
]
