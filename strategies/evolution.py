"""Evolutionary search: regularized (aging) evolution and plain tournament evolution.

Both keep a population of evaluated cells, pick a parent by tournament (the best observed accuracy among
``sample_size`` members drawn with replacement, as in NASLib and the AmoebaNet code) and propose one mutation of it: one random edge set to a different op, i.e. a
uniform one of the 24 neighbours. They differ only in who leaves the population: the *oldest* member
(regularized evolution, Real et al. 2019, "aging") or the *worst* one (classic tournament evolution). On noisy
NB201 observations aging helps, because a lucky seed cannot keep a mediocre cell alive forever.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, N_EDGES, N_OPS, NB201Space

N_NEIGHBOURS = N_EDGES * (N_OPS - 1)
_NEIGHBOURS: np.ndarray | None = None


def neighbour_table(space: NB201Space) -> np.ndarray:
    """(15625, 24) int64: row i holds the neighbours of cell i in ``space.neighbour_indices`` order.

    Built once per process with 24 vectorised lookups (~10 ms) so that a mutation is one table read.
    """
    global _NEIGHBOURS
    if _NEIGHBOURS is None:
        ops = space.ops(space.all_indices).astype(np.int64)
        table = np.empty((N_CELLS, N_NEIGHBOURS), dtype=np.int64)
        for col in range(N_NEIGHBOURS):
            edge, shift = divmod(col, N_OPS - 1)
            cand = ops.copy()
            cand[:, edge] = (cand[:, edge] + shift + 1) % N_OPS
            table[:, col] = space.indices_from_ops(cand)
        _NEIGHBOURS = table
    return _NEIGHBOURS


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise NasscoutError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class _Evolution(Strategy):
    """Shared machinery; subclasses choose who dies (``aging``)."""

    aging: ClassVar[bool] = True

    def __init__(
        self,
        space: NB201Space,
        *,
        seed: int,
        context: SearchContext | None = None,
        population_size: int = 30,
        sample_size: int = 10,
    ):
        super().__init__(space, seed=seed, context=context)
        self.population_size = _positive_int(population_size, "population_size")
        self.sample_size = _positive_int(sample_size, "sample_size")
        if self.sample_size > self.population_size:
            raise NasscoutError(
                f"sample_size {self.sample_size} exceeds population_size {self.population_size}; "
                "accepted: 1..population_size"
            )
        self._neighbours = neighbour_table(space)
        self._members: list[int] = []  # cell indices, oldest first
        self._scores: list[float] = []  # observed accuracy of each member (NaN counted as -inf)
        self._asked = 0

    def ask(self) -> Trial:
        # The first population_size proposals are random (uniform, with replacement, as NASLib);
        # with more workers than population members the population may still be empty.
        if self._asked < self.population_size or not self._members:
            index = int(self.rng.integers(N_CELLS))
        else:
            # one draw of sample_size + 1 uniforms: floor(u * n) is uniform on 0..n-1 up to 2**-53, and 3x
            # cheaper than Generator.integers (this is the hot path of 100-seed benchmarks)
            n = len(self._members)
            u = self.rng.random(self.sample_size + 1).tolist()
            scores = self._scores
            best = max(
                (int(x * n) for x in u[:-1]), key=scores.__getitem__
            )  # tournament, with replacement
            index = int(self._neighbours[self._members[best], int(u[-1] * N_NEIGHBOURS)])
        self._asked += 1
        return self._new_trial(index)

    def tell(self, trial: Trial, obs: Observation) -> None:
        acc = obs.valid_acc
        self._members.append(trial.index)
        self._scores.append(acc if acc == acc else -np.inf)
        if len(self._members) > self.population_size:
            scores = self._scores
            drop = 0 if self.aging else min(range(len(scores)), key=scores.__getitem__)
            del self._members[drop]
            del self._scores[drop]


class RegularizedEvolution(_Evolution):
    """Regularized evolution (Real et al. 2019, "AmoebaNet"), the NB201 paper's and NASLib's REA.

    Defaults as NASLib's NB201 config: ``population_size=30``, ``sample_size=10``; the oldest member dies.
    """

    name = "rea"
    summary = (
        "regularized evolution: tournament of 10 from 30, one-edge mutation, oldest dies (aging)"
    )
    aging = True


class TournamentEvolution(_Evolution):
    """Tournament evolution without aging: same as REA but the worst member dies (ties: the oldest)."""

    name = "evolution"
    summary = (
        "tournament evolution: as rea, but the worst member dies instead of the oldest (no aging)"
    )
    aging = False
