"""The ask/tell contract every search strategy meets.

A strategy proposes a :class:`Trial` (a cell, and a fidelity for multi-fidelity strategies) and later hears its
:class:`Observation`. It never sees the benchmark: the runner decides where a trial runs (a table on a simulated
clock, or real training), so the same strategy code serves both. With several workers, ``ask`` is called again
before earlier trials are told: strategies must cope with pending trials.

Randomness: every strategy takes ``seed`` and draws only from ``self.rng`` (``numpy.random.Generator``) or a
``torch.Generator`` seeded from it, so the same seed and the same observations give the same proposals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


@dataclass(frozen=True)
class Trial:
    """One proposal: ``index`` is a cell index of the space; ``fidelity`` the epochs to train (None = the most).

    ``info["overhead_s"]`` (seconds >= 0, optional) charges work the strategy did before asking this trial
    besides training (scoring candidates with zero-cost proxies, fitting a predictor): the runner adds it to
    the trial's ``cost_s`` and, on the simulated clock, to the time the trial occupies its worker, so it is
    journaled with the row and a resumed run replays it exactly.
    """

    trial_id: int
    index: int
    fidelity: int | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Observation:
    """What the strategy learns about a trial: one seed's validation accuracy (noisy) and side metrics."""

    valid_acc: float
    fidelity: int
    cost_s: float
    params_m: float = float("nan")
    latency_s: float = float("nan")
    flops_m: float = float("nan")
    train_time_s: float = float("nan")
    # the observed per-epoch values up to ``fidelity``, for strategies with ``wants_curves`` on a benchmark
    # whose fidelities are epochs of one schedule (None otherwise)
    curve: tuple[float, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SearchContext:
    """What the runner tells a strategy about the problem before the search starts."""

    fidelities: tuple[int, ...] = (200,)
    budget_queries: int | None = None
    budget_seconds: float | None = None
    n_workers: int = 1
    dataset: str = "cifar10"
    # Observation fields the benchmark records for this dataset (params_m, latency_s, ...); None = not known
    # before the first result. A strategy that needs a missing one refuses at construction when it is known.
    metrics: tuple[str, ...] | None = None
    # "schedules": each fidelity is its own training (NB201's 12 and 200 epochs); "epochs": the fidelities
    # are epochs of one schedule (surrogate.epochs.EpochFidelities), so a lower rung starts the final curve
    fidelity_kind: str = "schedules"
    # how the runner opens the benchmark (``surrogate.registry.load_benchmark``: a name, a file, ``train:...``);
    # a strategy may read free per-cell tables through it (zero-cost proxies, another dataset's results)
    benchmark: str | None = None


class Strategy(ABC):
    """Base class: stores arguments, owns the RNG and the trial counter; subclasses implement ``ask``/``tell``.

    A strategy knows its space only through the :class:`~surrogate.space.SearchSpace` API (``candidates``,
    the cells it may propose, ``n_cells``,
    ``cardinalities``, ``cell_ops``, ``indices_from_ops``, moves, ``class_ids``, ``encode``), so the same code runs
    on every space. What a strategy needs beyond that (two fidelities, an encoding) it checks in
    :meth:`unsupported`, which the constructor turns into one ``NasscoutError`` line.
    """

    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""
    multi_fidelity: ClassVar[bool] = False
    # the fewest distinct fidelities the strategy can work with (sh/hyperband: a lower rung to screen on)
    min_fidelities: ClassVar[int] = 1
    # True: the runner attaches each result's observed curve (``Observation.curve``) where the fidelities
    # are epochs of one schedule
    wants_curves: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, *, seed: int, context: SearchContext | None = None):
        self.space = space
        self.seed = int(seed)
        self.context = context or SearchContext()
        reason = self.unsupported(space, self.context)
        if reason is not None:
            raise NasscoutError(f"{self.name}: {reason}")
        self.rng = np.random.default_rng(self.seed)
        self._next_id = 0

    def _random_cell(self) -> int:
        """A uniform cell among those the search may propose (``space.candidates``: every cell, or a
        table's subset); on the full space the same draw as ``rng.integers(n_cells)``."""
        c = self.space.candidates
        return int(c[self.rng.integers(len(c))])

    def _new_trial(self, index: int, fidelity: int | None = None, **info: Any) -> Trial:
        trial = Trial(self._next_id, int(index), fidelity, info)
        self._next_id += 1
        return trial

    @abstractmethod
    def ask(self) -> Trial | None:
        """Propose the next trial (called again before earlier trials are told when workers > 1).

        Returning None means "nothing to propose until a pending trial reports" (e.g. a synchronous rung
        waiting for its last results); the runner then leaves the worker idle until the next ``tell``. It is
        an error while no trial is pending.
        """

    @abstractmethod
    def tell(self, trial: Trial, obs: Observation) -> None:
        """Learn from a finished trial."""

    @classmethod
    def unsupported(cls, space: SearchSpace, context: SearchContext) -> str | None:
        """Why this strategy cannot run on ``space`` with ``context`` (one line), or None when it can.

        Callers may ask before constructing (e.g. to skip a strategy in ``--strategy all``); the constructor
        raises the same reason as a ``NasscoutError``.
        """
        fids = sorted({int(f) for f in context.fidelities})
        if len(fids) < cls.min_fidelities:
            return (
                f"needs at least {cls.min_fidelities} fidelities (training lengths), but dataset "
                f"{context.dataset!r} has {len(fids)}: {fids}; accepted: a benchmark with several "
                "(e.g. nb201: 12 and 200 epochs)"
            )
        return None

    @property
    def max_fidelity(self) -> int:
        return max(self.context.fidelities)
