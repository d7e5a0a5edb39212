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

import contextlib
import gzip
import sys
import time
import zipfile
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from predictors.base import Z90, Predictor, output
from surrogate.atomic import atomic_path
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, NB201Space

PROXIES: tuple[str, ...] = ("params", "flops", "zen", "synflow", "jacov")
NETWORK_PROXIES: tuple[str, ...] = ("synflow", "jacov")
BATCHES: tuple[str, ...] = ("fashion-mnist", "random")
CACHE_VERSION = 1
NASLIB_FAILED = (
    -1e7
)  # NASLib stores -1e8 for a proxy that failed (degenerate network); below this = failed
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_SPACE = NB201Space()


# ---- the data batch -----------------------------------------------------------------------------------


def fashion_mnist_path() -> Path | None:
    """The Fashion-MNIST training images (IDX, gzipped), from the data roots or Debian's package."""
    from surrogate.sources import source_roots

    name = "train-images-idx3-ubyte.gz"
    candidates = [root / "fashion_mnist" / name for root in source_roots()]
    candidates.append(Path("/usr/share/datasets/fashion-mnist") / name)
    return next((p for p in candidates if p.is_file()), None)


def image_batch(kind: str, n: int, *, seed: int, hw: int = 32, channels: int = 3) -> np.ndarray:
    """A reproducible float32 batch (n, channels, hw, hw) for data-dependent proxies."""
    if kind not in BATCHES:
        raise NasscoutError(f"unknown batch {kind!r}; accepted: {', '.join(BATCHES)}")
    if hw not in (16, 32):
        raise NasscoutError(f"input size {hw} is not supported for proxy batches; accepted: 16, 32")
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal((n, channels, hw, hw), dtype=np.float32)
    path = fashion_mnist_path()
    if path is None:
        raise NasscoutError(
            "Fashion-MNIST images not found (put them in shared/data/fashion_mnist or "
            "`apt-get install dataset-fashion-mnist`); or use batch='random'"
        )
    with gzip.open(path, "rb") as fh:
        raw = np.frombuffer(fh.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    pick = np.sort(rng.choice(len(raw), size=n, replace=False))
    x = (raw[pick].astype(np.float32) / 255.0 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))  # 28 -> 32, zero = the padding NB201's crops use
    if hw == 16:
        x = x.reshape(n, 16, 2, 16, 2).mean(axis=(2, 4))
    return np.ascontiguousarray(np.repeat(x[:, None], channels, axis=1), dtype=np.float32)


# ---- one cell's network scores -----------------------------------------------------------------------


def _network_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _net_config(dataset: str) -> tuple[int, int]:
    from surrogate.costmodel import DATASET_CLASSES, DATASET_INPUT_HW

    return DATASET_CLASSES[dataset], DATASET_INPUT_HW[dataset]


def synflow_score(index: int, dataset: str, *, seed: int = 0, C: int = 16, N: int = 5) -> float:
    """log SynFlow of one cell's network (NaN when the output ignores the input)."""
    import torch

    from surrogate.network import build_network

    n_classes, hw = _net_config(dataset)
    net = build_network(
        int(index), C=C, N=N, n_classes=n_classes, bn=False, seed=_network_seed(seed, index)
    )
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net(torch.ones((1, 3, hw, hw), dtype=torch.float64)).sum().backward()
    total = 0.0
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.weight.grad is not None:
                total += float((m.weight * m.weight.grad).abs().sum())
    return float(np.log(total)) if total > 0 and np.isfinite(total) else float("nan")


def jacov_score(
    index: int, dataset: str, batch: np.ndarray, *, seed: int = 0, C: int = 16, N: int = 5
) -> float:
    """NASLib's Jacobian covariance score of one cell's network on ``batch`` (NaN when degenerate)."""
    import torch

    from surrogate.network import build_network

    n_classes, _ = _net_config(dataset)
    net = build_network(
        int(index),
        C=C,
        N=N,
        n_classes=n_classes,
        in_channels=batch.shape[1],
        seed=_network_seed(seed, index),
    )
    net.train()
    net.requires_grad_(False)  # only input gradients are needed: skips every weight-gradient kernel
    x = torch.from_numpy(batch).clone().requires_grad_(True)
    y = net(x)
    if not y.requires_grad:
        return float("nan")
    y.backward(torch.ones_like(y))
    if x.grad is None:
        return float("nan")
    jac = x.grad.reshape(len(batch), -1).double().numpy()
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    v = np.clip(np.linalg.eigvalsh(corr), 0.0, None)  # a correlation matrix is PSD: < 0 is rounding
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


# ---- the cache ------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    from surrogate.sources import nasscout_home

    return nasscout_home() / "zerocost"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except (
            ImportError
        ):  # no advisory locks on this platform: last writer wins, values agree anyway
            pass
        yield


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


class ProxyCache:
    """Per-cell values of one network proxy under one configuration, filled on demand and kept on disk.

    ``threads`` torch threads compute them (1 by default: on a machine whose cores are shared, one thread is
    several times faster per cell than two contending ones; measured 73 vs 592 ms for synflow).
    """

    def __init__(
        self,
        proxy: str,
        dataset: str,
        *,
        seed: int = 0,
        batch: str = "fashion-mnist",
        batch_size: int = 32,
        C: int = 16,
        N: int = 5,
        threads: int = 1,
    ) -> None:
        if proxy not in NETWORK_PROXIES:
            raise NasscoutError(
                f"unknown network proxy {proxy!r}; accepted: {', '.join(NETWORK_PROXIES)}"
            )
        _net_config_checked(dataset)
        if batch not in BATCHES:
            raise NasscoutError(f"unknown batch {batch!r}; accepted: {', '.join(BATCHES)}")
        checks = (
            ("seed", seed),
            ("batch_size", batch_size),
            ("C", C),
            ("N", N),
            ("threads", threads),
        )
        for name, value in checks:
            low = 0 if name == "seed" else (2 if name == "batch_size" else 1)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise NasscoutError(f"{name}={value!r} is invalid; accepted: an integer >= {low}")
        self.proxy, self.dataset, self.seed = proxy, dataset, int(seed)
        self.batch, self.batch_size, self.C, self.N = batch, int(batch_size), int(C), int(N)
        self.threads = int(threads)
        tag = f"C{C}-N{N}-seed{seed}"
        if proxy == "jacov":
            tag += f"-{batch}{batch_size}"
        self.path = cache_dir() / f"{proxy}-{dataset}-{tag}-v{CACHE_VERSION}.npz"
        self._batch: np.ndarray | None = None

    # -- disk --
    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, done) for all cells; a missing or unreadable file means nothing is cached yet."""
        values, done, _ = self.load_all()
        return values, done

    def load_all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, done, seconds): ``seconds`` is what computing each cell's score took (NaN = unknown)."""
        try:
            with np.load(self.path, allow_pickle=False) as z:
                values, done, seconds = z["values"], z["done"], z["seconds"]
            if values.shape == done.shape == seconds.shape == (N_CELLS,):
                return values.astype(np.float64), done.astype(bool), seconds.astype(np.float64)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # unreadable (e.g. truncated): treated as empty, recomputed and replaced
        return np.full(N_CELLS, np.nan), np.zeros(N_CELLS, dtype=bool), np.full(N_CELLS, np.nan)

    def seconds(self, indices: Any) -> np.ndarray:
        """Compute time per cell as recorded when its score was first computed (NaN if not cached)."""
        return self.load_all()[2][_SPACE.indices(indices)]

    def save(self, values: np.ndarray, done: np.ndarray, seconds: np.ndarray) -> None:
        """Merge with what other processes saved meanwhile, then replace the file atomically."""
        with _locked(self.path):
            old_values, old_done, old_seconds = self.load_all()
            new = done & ~old_done
            old_values[new] = values[new]
            old_seconds[new] = seconds[new]
            _atomic_savez(self.path, values=old_values, done=old_done | done, seconds=old_seconds)

    # -- compute --
    def _score(self, index: int) -> float:
        if self.proxy == "synflow":
            return synflow_score(index, self.dataset, seed=self.seed, C=self.C, N=self.N)
        if self._batch is None:
            _, hw = _net_config(self.dataset)
            self._batch = image_batch(self.batch, self.batch_size, seed=self.seed, hw=hw)
        return jacov_score(index, self.dataset, self._batch, seed=self.seed, C=self.C, N=self.N)

    def values(
        self,
        indices: Any,
        *,
        compute: bool = True,
        progress: bool = False,
        save_every_s: float = 20.0,
    ) -> np.ndarray:
        """Scores of ``indices`` (NaN = degenerate, or not cached when ``compute=False``)."""
        from surrogate.spaces.nb201 import canonical_indices

        idx = _SPACE.indices(indices)
        values, done, seconds = self.load_all()
        if not compute or done[idx].all():
            return values[idx]
        all_reps = canonical_indices(_SPACE.all_indices)
        todo = np.unique(all_reps[idx[~done[idx]]])
        bar = _progress(len(todo), f"{self.proxy} {self.dataset}") if progress else None
        last_save = time.monotonic()
        with _torch_threads(self.threads):
            for rep in todo:
                members = np.flatnonzero(all_reps == rep)
                start = time.process_time()  # CPU time: what the cell costs, not the machine's load
                values[members] = self._score(int(rep))
                seconds[members] = time.process_time() - start
                done[members] = True
                if bar is not None:
                    bar.update(1)
                if time.monotonic() - last_save > save_every_s:
                    self.save(values, done, seconds)
                    last_save = time.monotonic()
        if bar is not None:
            bar.close()
        self.save(values, done, seconds)
        return values[idx]


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` threads inside the block only; the caller's setting is restored after."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _net_config_checked(dataset: str) -> None:
    from surrogate.costmodel import DATASET_CLASSES

    if dataset not in DATASET_CLASSES:
        raise NasscoutError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASET_CLASSES)}")


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="cell", file=sys.stderr, leave=False)


# ---- the predictors ---------------------------------------------------------------------------------------


def dataset_name(dataset: str) -> str:
    from surrogate.benchmark import resolve_dataset
    from surrogate.costmodel import DATASET_CLASSES

    return resolve_dataset(dataset, tuple(DATASET_CLASSES))


class ProxyPredictor(Predictor):
    """A training-free score; ``fit`` only calibrates it to the target units (ranking unchanged).

    Calibration is a least-squares line on ``_calibration_scale(score)`` (a fixed increasing map: identity,
    or a log for scores spanning orders of magnitude). Degenerate cells sit at a floor below every training
    score and below ``_lowest()``, a bound under every working cell's calibrated score, so they rank last
    whatever the training cells were, and the proxy's ranking is independent of the training data.
    """

    needs_training: ClassVar[bool] = False
    proxy: ClassVar[str] = ""
    degenerate: ClassVar[
        float
    ] = -1e8  # the unfitted score of degenerate cells (NASLib's convention)

    def __init__(
        self, *, seed: int = 0, space: NB201Space | None = None, dataset: str = "cifar10"
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.dataset = dataset

    def score(self, archs: Any) -> np.ndarray:
        """The proxy's own score per cell, higher = better; NaN for degenerate cells."""
        return self._scores(self._space().indices(archs), dataset_name(self.dataset))

    @abstractmethod
    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        """Scores of cell indices for a canonical dataset name."""

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
        self.slope_ = max(slope, 1e-12)  # positive: calibration never reverses the proxy's ranking
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
    summary = "training-free: log parameter count of the NB201 network (surrogate.costmodel)"

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        from surrogate.costmodel import DATASET_CLASSES, params_m

        return np.log(params_m(idx, n_classes=DATASET_CLASSES[dataset]))


class FlopsProxy(ProxyPredictor):
    name = proxy = "flops"
    summary = "training-free: log FLOPs of the NB201 network (surrogate.costmodel)"

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        from surrogate.costmodel import DATASET_CLASSES, DATASET_INPUT_HW, flops_m

        return np.log(
            flops_m(idx, n_classes=DATASET_CLASSES[dataset], input_hw=DATASET_INPUT_HW[dataset])
        )


class ZenProxy(ProxyPredictor):
    name = proxy = "zen"
    summary = "training-free: Zen-NAS score recorded in the benchmark (NAS-Bench-Suite-Zero)"

    def __init__(
        self,
        *,
        seed: int = 0,
        space: NB201Space | None = None,
        dataset: str = "cifar10",
        benchmark: str = "nb201",
    ) -> None:
        super().__init__(seed=seed, space=space, dataset=dataset)
        self.benchmark = benchmark

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        table = self.__dict__.get("_cache_zen")
        if table is None:
            table = zen_table(dataset, self.benchmark)
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
    """A proxy computed by running the NB201 network (cached per cell on disk).

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
        space: NB201Space | None = None,
        dataset: str = "cifar10",
        init_seed: int = 0,
        batch: str = "fashion-mnist",
        batch_size: int = 32,
        max_calibration: int = 100,
        progress: bool = False,
    ) -> None:
        super().__init__(seed=seed, space=space, dataset=dataset)
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


# ---- tables over the whole space ----------------------------------------------------------------------


def zen_table(dataset: str, benchmark: str = "nb201") -> np.ndarray:
    """Zen-NAS score of all 15,625 cells (NaN where the benchmark lacks it)."""
    from surrogate.registry import load_benchmark

    b = load_benchmark(benchmark)
    out = np.full(N_CELLS, np.nan)
    out[b.cells] = b.extra(b.cells, dataset=b.dataset(dataset), field="zen")
    return out


def cell_features(
    dataset: str = "cifar10",
    *,
    proxies: tuple[str, ...] | list[str] = PROXIES,
    benchmark: str = "nb201",
    compute: bool = False,
    progress: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """The (15625, k) table of free per-cell features trained predictors accept as ``cell_features``.

    Columns follow ``proxies`` (each proxy's score, higher = better). ``synflow``/``jacov`` hold whatever is
    cached (``compute=True`` computes the rest: minutes to an hour); a column with nothing cached is left out,
    not filled with NaN, and unknown values are NaN. Degenerate cells get the proxy's low
    ``degenerate`` score, so a model sees them as the worst rather than as unknown.
    """
    ds = dataset_name(dataset)
    unknown = [p for p in proxies if p not in PROXY_CLASSES]
    if unknown:
        raise NasscoutError(f"unknown proxy {unknown[0]!r}; accepted: {', '.join(PROXIES)}")
    cols, names = [], []
    for p in proxies:
        if p in NETWORK_PROXIES:
            cache = ProxyCache(p, ds)
            if compute:
                cache.values(_SPACE.all_indices, progress=progress)
            values, done = cache.load()
            if not done.any():
                continue
            col = np.where(
                done, np.where(np.isfinite(values), values, PROXY_CLASSES[p].degenerate), np.nan
            )
        elif p == "zen":
            col = zen_table(ds, benchmark)
        else:
            col = PROXY_CLASSES[p](dataset=ds).score(_SPACE.all_indices)
        cols.append(col)
        names.append(p)
    table = np.column_stack(cols) if cols else np.empty((N_CELLS, 0))
    return table, names
