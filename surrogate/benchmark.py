"""What every benchmark answers: how good is a cell, and what did it cost to find out.

Three kinds share this contract: tabular (answers from a table), fitted surrogate (model + noise) and real
training (answers by training). Strategies and predictors see only this protocol, so swapping a table for real
training changes no search code.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

SeedSpec = None | str | int | np.random.Generator

# Canonical dataset names (NB201 spelling) and the aliases users type.
DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "fashion-mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
}


def resolve_dataset(name: str, available: tuple[str, ...]) -> str:
    """Map a user's dataset name onto one the benchmark holds, or fail listing the valid ones."""
    if name in available:
        return name
    canon = DATASET_ALIASES.get(str(name).lower(), str(name))
    for a in available:
        if a == canon or a.lower() == str(name).lower():
            return a
    raise NasscoutError(f"unknown dataset {name!r}; accepted: {', '.join(available)}")


class Records:
    """Answers for many cells at once: one numpy array per field, aligned with ``index``.

    Accuracies are percent, times seconds, params millions; NaN marks an unknown value.
    """

    __slots__ = (
        "index",
        "valid_acc",
        "test_acc",
        "train_time_s",
        "params_m",
        "latency_s",
        "flops_m",
        "dataset",
        "fidelity",
        "seed",
    )
    FIELDS = ("valid_acc", "test_acc", "train_time_s", "params_m", "latency_s", "flops_m")

    def __init__(
        self,
        index: np.ndarray,
        valid_acc: np.ndarray,
        test_acc: np.ndarray,
        train_time_s: np.ndarray,
        params_m: np.ndarray,
        latency_s: np.ndarray,
        flops_m: np.ndarray,
        dataset: str,
        fidelity: int,
        seed: Any,
    ) -> None:
        self.index = index
        self.valid_acc = valid_acc
        self.test_acc = test_acc
        self.train_time_s = train_time_s
        self.params_m = params_m
        self.latency_s = latency_s
        self.flops_m = flops_m
        self.dataset = dataset
        self.fidelity = fidelity
        self.seed = seed

    def __len__(self) -> int:
        return len(self.index)

    def row(self, i: int = 0, space: NB201Space | None = None) -> dict[str, Any]:
        """One cell's answer as plain Python values (None for unknown), e.g. for JSON."""
        space = space or NB201Space()

        def val(a: np.ndarray) -> float | None:
            v = float(a[i])
            return None if np.isnan(v) else v

        out: dict[str, Any] = {
            "arch": space.format(int(self.index[i])),
            "index": int(self.index[i]),
        }
        out.update({f: val(getattr(self, f)) for f in self.FIELDS})
        out.update(dataset=self.dataset, fidelity=self.fidelity, seed=self.seed)
        return out

    def to_frame(self):  # -> pandas.DataFrame (pandas imported lazily: it costs ~0.3 s)
        import pandas as pd

        cols = {"index": self.index, **{f: getattr(self, f) for f in self.FIELDS}}
        return pd.DataFrame(cols).assign(dataset=self.dataset, fidelity=self.fidelity)

    def __repr__(self) -> str:
        return f"Records(n={len(self)}, dataset={self.dataset!r}, fidelity={self.fidelity}, seed={self.seed!r})"


@runtime_checkable
class Benchmark(Protocol):
    """The contract every benchmark meets (tabular, fitted surrogate, real training)."""

    name: str
    space: NB201Space
    datasets: tuple[str, ...]
    fidelities: tuple[int, ...]

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records:
        """Vectorised answer; ``seed`` is a recorded seed, 'mean'/None, or a Generator to draw one per cell."""
        ...

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        """Simulated seconds of training to obtain each answer."""
        ...

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        """The oracle: index and value of the best cell by seed-mean ``metric``."""
        ...
