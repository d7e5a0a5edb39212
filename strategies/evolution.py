"""Evolutionary search: regularized (aging) evolution and plain tournament evolution.

Both keep a population of evaluated cells, pick a parent by tournament (the best observed accuracy among
``sample_size`` members drawn with replacement, as in NASLib and the AmoebaNet code) and propose one mutation of it: one random position set to a different choice, i.e. a
uniform one of the parent's distinct neighbours (24 on NB201; on spaces where some choice vectors are no cell or
name the same cell, only the distinct cells count, see ``strategies.moves.neighbour_table``). They differ only in who leaves the population: the *oldest* member
(regularized evolution, Real et al. 2019, "aging") or the *worst* one (classic tournament evolution). On noisy
NB201 observations aging helps, because a lucky seed cannot keep a mediocre cell alive forever. On a table
that holds only some cells, a parent none of whose neighbours is in the table is replaced by a random cell of
the table rather than proposed again (ours).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from strategies.moves import neighbour_table
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise NasscoutError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class _Evolution(Strategy):
    """Shared machinery; subclasses choose who dies (``aging``)."""

    aging: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
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
        self._neighbours, self._n_neighbours = neighbour_table(space)
        self._members: list[int] = []  # cell indices, oldest first
        self._scores: list[float] = []  # observed accuracy of each member (NaN counted as -inf)
        self._asked = 0

    def ask(self) -> Trial:
        # The first population_size proposals are random (uniform, with replacement, as NASLib);
        # with more workers than population members the population may still be empty.
        if self._asked < self.population_size or not self._members:
            index = self._random_cell()
        else:
            # one draw of sample_size + 1 uniforms: floor(u * n) is uniform on 0..n-1 up to 2**-53, and 3x
            # cheaper than Generator.integers (this is the hot path of 100-seed benchmarks)
            n = len(self._members)
            u = self.rng.random(self.sample_size + 1).tolist()
            scores = self._scores
            best = max(
                (int(x * n) for x in u[:-1]), key=scores.__getitem__
            )  # tournament, with replacement
            parent = self._members[best]
            n_nb = int(self._n_neighbours[parent])
            # a parent without a neighbour in the table (a sparse table of the user's cells) would only be
            # proposed again: a random cell of the table instead (ours; on full tables every cell has one)
            index = (
                int(self._neighbours[parent, int(u[-1] * n_nb)]) if n_nb else self._random_cell()
            )
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
        "regularized evolution: tournament of 10 from 30, one-choice mutation, oldest dies (aging)"
    )
    aging = True


class TournamentEvolution(_Evolution):
    """Tournament evolution without aging: same as REA but the worst member dies (ties: the oldest)."""

    name = "evolution"
    summary = (
        "tournament evolution: as rea, but the worst member dies instead of the oldest (no aging)"
    )
    aging = False
