"""The NB201 torch network's proxies: the image batch, synflow and jacov scores of one cell, and their cache.

These need ``surrogate.network`` (the NB201 macro skeleton with a cell of 6 edges), so they exist for the
NB201 space only: ``predictors.zerocost``'s synflow/jacov predictors refuse other spaces in one line.
Scores are computed per isomorphism class representative and cached on disk per configuration (see
``predictors.zerocost`` for the proxies' definitions and measured costs).
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import atomic_path
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

NETWORK_PROXIES: tuple[str, ...] = ("synflow", "jacov")
BATCHES: tuple[str, ...] = ("fashion-mnist", "random")
CACHE_VERSION = 1
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_SPACE = NB201Space()  # the network is NB201's: its cells are the only ones these scores exist for
N_CELLS = _SPACE.n_cells


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
