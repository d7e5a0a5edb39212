"""Random search: the baseline every NAS method has to beat (Li & Talwalkar 2019; NB201 paper, sec. 5)."""

from __future__ import annotations

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.space import SearchSpace


class RandomSearch(Strategy):
    """Uniform random cells at the top fidelity, **without replacement**.

    NASLib samples with replacement; we do not, because a repeated cell spends a query on an answer already
    known (about 1.3 repeats per 200 queries on NB201, so the two agree within noise). Cells come from one
    seeded permutation of the space's ``n_cells``; once it is exhausted a fresh permutation starts (only for
    budgets above the size of the space, 15,625 queries on NB201).
    """

    name = "rs"
    summary = "random search: uniform cells without replacement (baseline)"

    def __init__(self, space: SearchSpace, *, seed: int, context: SearchContext | None = None):
        super().__init__(space, seed=seed, context=context)
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0

    def ask(self) -> Trial:
        if self._pos >= len(self._order):
            self._order = self.rng.permutation(self.space.candidates).tolist()
            self._pos = 0
        index = self._order[self._pos]
        self._pos += 1
        return self._new_trial(index)

    def tell(self, trial: Trial, obs: Observation) -> None:
        """Random search learns nothing."""
