"""Greedy mutation: sample ``n_init`` random cells, then always mutate the best cell seen so far."""

from __future__ import annotations

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.space import SearchSpace


class GreedyMutation(Strategy):
    """After ``n_init`` random cells, propose an unseen neighbour of the best observed cell (a random
    unseen cell once the incumbent has none left). Options: ``n_init`` (int), ``explore`` (float: the
    probability of a random cell instead of a mutation)."""

    name = "greedy"
    summary = "greedy mutation of the incumbent (example plugin)"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        n_init: int = 10,
        explore: float = 0.0,
    ):
        super().__init__(space, seed=seed, context=context)
        self.n_init = int(n_init)
        self.explore = float(explore)
        self._seen: set[int] = set()
        self._best = (-np.inf, -1)

    def _unseen_random(self) -> int:
        for _ in range(1000):
            cell = self._random_cell()
            if cell not in self._seen:
                return cell
        return self._random_cell()

    def ask(self) -> Trial:
        if len(self._seen) < self.n_init or self._best[1] < 0 or self.rng.random() < self.explore:
            cell = self._unseen_random()
        else:
            nb = self.space.neighbour_indices(self._best[1])
            nb = nb[np.isin(nb, self.space.candidates)]
            fresh = [int(c) for c in nb if int(c) not in self._seen]
            cell = fresh[self.rng.integers(len(fresh))] if fresh else self._unseen_random()
        self._seen.add(cell)
        return self._new_trial(cell)

    def tell(self, trial: Trial, obs: Observation) -> None:
        if np.isfinite(obs.valid_acc) and obs.valid_acc > self._best[0]:
            self._best = (float(obs.valid_acc), trial.index)
