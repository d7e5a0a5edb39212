"""What every benchmark answers: how good is a cell, and what did it cost to find out.

Three kinds share this contract: tabular (answers from a table), fitted surrogate (model + noise) and real
training (answers by training). Strategies and predictors see only this protocol, so swapping a table for real
training changes no search code.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Metric:
    """What a dataset's validation number means. Every benchmark stores "higher is better" values under the
    field name ``valid_acc`` (a loss is stored negated and named so), which is what lets one regret, one
    incumbent rule and one report serve every space."""

    name: str = "top-1 accuracy (%)"
    higher_is_better: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "higher_is_better": self.higher_is_better}


ACCURACY = Metric()

# What kind of thing answers: the runner evaluates a "tabular" benchmark through a precomputed lookup of
# its recorded seeds, anything else ("surrogate": a fitted model; "training": real training) by ``query``.
# "oneshot": a trained supernet's inherited-weight scores (``surrogate.oneshot``), answered like a surrogate.
BENCHMARK_KINDS = ("tabular", "surrogate", "training", "oneshot")


@runtime_checkable
class Benchmark(Protocol):
    """The contract every benchmark meets (tabular, fitted surrogate, real training).

    A benchmark says what a cell is worth and what it cost to find out; it knows nothing of where or when a
    trial runs (that is a ``strategies.backends.Backend``) or what to try next (a ``Strategy``). All
    methods are vectorised over cells (anything ``space.indices`` reads) and fail with one
    ``NasscoutError`` line naming what is accepted.

    - ``name``: registry name or file stem; ``kind``: one of ``BENCHMARK_KINDS``; ``path``: its file.
    - ``space``: the ``SearchSpace`` its cells live in.
    - ``datasets``: canonical names; ``dataset(name)`` resolves a user's spelling or refuses.
    - ``metric(dataset)``: what ``valid_acc`` means there (always higher is better).
    - ``fidelities_for(dataset)``: training lengths it can answer (epochs), ascending; the last is "final".
    - ``seeds(dataset, fidelity)``: the recorded (or trained) seeds behind a noisy answer.
    - ``cells_for(dataset)``: the cells it can answer without training (all of the space for a full table,
      a subset for a partial table or a dataset that lacks some ops, the cells trained so far for real
      training, every cell for a surrogate).
    - ``query``: ``Records``; ``seed`` is "mean"/None (the seed-mean), a recorded seed, or a Generator (one
      seed drawn per cell: a noisy observation).
    - ``cost``: seconds of training each answer costs (measured or estimated).
    - ``best``: the oracle (index, value) by seed-mean ``metric`` at a fidelity (default: the last).
    """

    name: str
    kind: str
    space: Any
    datasets: tuple[str, ...]
    path: Any  # the file behind it (a table, a run store, a fitted model), or None

    def dataset(self, name: str) -> str: ...

    def metric(self, dataset: str) -> Metric: ...

    def fidelities_for(self, dataset: str) -> tuple[int, ...]: ...

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]: ...

    def cells_for(self, dataset: str) -> np.ndarray: ...

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records: ...

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray: ...

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]: ...
