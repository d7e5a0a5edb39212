"""Local search with restarts, the naszilla/NASLib variant (White et al., "Local search is state of the art for
NAS benchmarks", 2021; naszilla ``nas_algorithms.local_search``)."""

from __future__ import annotations

from collections import deque

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

_INIT, _NBR = 0, 1


class LocalSearch(Strategy):
    """Hill climbing over the one-choice neighbours (24 on NB201), restarting from fresh random cells at a local optimum.

    As naszilla's ``local_search`` (defaults ``num_init=10``, ``query_full_nbhd=False``,
    ``stop_at_minimum=True``):

    1. evaluate ``num_init`` random, not yet evaluated cells; the best observed one is the incumbent;
    2. evaluate the incumbent's not yet evaluated neighbours in random order; with ``first_improvement`` (the
       default) move to the first one observed better than the incumbent and start again from step 2 with its
       neighbourhood; otherwise evaluate the whole neighbourhood and move to its best if that improves;
    3. when no neighbour improves (a local optimum under the observations), restart at step 1.

    A cell is never evaluated twice (naszilla keeps a ``query_dict``), so neighbours met earlier are skipped,
    not re-queried, and (as in naszilla) not compared either. ``use_known=True`` instead moves to a better
    neighbour observed earlier at no query cost; on NB201 CIFAR-10 (100 seeds, 200 queries) it made no
    measurable difference (regret 0.081 vs 0.068 points at 200 queries, within noise), so the default stays
    naszilla's. Accuracies are the noisy single-seed observations the strategy is told.

    Several workers: step 1's cells and the shuffled neighbourhood are a queue that every ``ask`` pops. When the
    queue is empty but results are still pending (the last neighbours of an incumbent are being trained), the
    free worker evaluates a random unseen cell for the *next* restart instead of idling; those cells join the
    pool from which the next restart picks its start, so no query is thrown away. A result that improves the
    incumbent moves the search whenever it arrives. With one worker this is exactly naszilla's algorithm.
    """

    name = "ls"
    summary = (
        "local search: first-improvement hill climbing over one-choice neighbours, random restarts"
    )

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        num_init: int = 10,
        first_improvement: bool = True,
        use_known: bool = False,
    ):
        super().__init__(space, seed=seed, context=context)
        if not (isinstance(num_init, (int, np.integer)) and num_init >= 1):
            raise NasscoutError(f"ls: num_init {num_init!r} is invalid; accepted: an integer >= 1")
        self.num_init = int(num_init)
        self.first_improvement = bool(first_improvement)
        self.use_known = bool(use_known)
        self._seen = np.zeros(space.n_cells, dtype=bool)
        self._acc = np.full(space.n_cells, np.nan)  # observed accuracy of every told cell
        self._n_seen = 0
        self._queue: deque[int] = deque()
        self._role: dict[int, tuple[int, int]] = {}  # trial_id -> (role, climb step it belongs to)
        self._pool: list[tuple[float, int]] = []  # told restart candidates (acc, index)
        self._incumbent: tuple[float, int] | None = None  # (observed acc, index)
        # increments at every move and restart, so a late neighbour knows whose neighbour it was
        self._step = 0
        self._pending_nbrs = 0  # neighbours of the current incumbent still being evaluated
        # best-improvement mode: the best neighbour told so far
        self._best_nbr: tuple[float, int] | None = None
        self.n_restarts = 0
        self.n_moves = 0

    @property
    def incumbent(self) -> tuple[int, float] | None:
        """(cell, observed accuracy) the climb stands on, or None between climbs."""
        if self._incumbent is None:
            return None
        return self._incumbent[1], self._incumbent[0]

    # ---- helpers ------------------------------------------------------------------------------------
    def _mark(self, index: int) -> None:
        if not self._seen[index]:
            self._seen[index] = True
            self._n_seen += 1

    def _random_unseen(self) -> int:
        if self._n_seen >= len(
            self.space.candidates
        ):  # whole space evaluated: only repeats are left
            return self._random_cell()
        while True:
            i = self._random_cell()
            if not self._seen[i]:
                return i

    def _start_climb(self, start: tuple[float, int]) -> None:
        nbrs = self.space.neighbour_indices(start[1])
        if self.use_known:
            # a neighbour observed earlier (another climb, a restart pool) may already be better
            while True:
                known = self._acc[nbrs]
                j = int(np.argmax(np.where(np.isnan(known), -np.inf, known)))
                if not known[j] > start[0]:
                    break
                start = (float(known[j]), int(nbrs[j]))
                nbrs = self.space.neighbour_indices(start[1])
                self.n_moves += 1
        self._incumbent = start
        self._step += 1
        self._pending_nbrs = 0
        self._best_nbr = None
        nbrs = nbrs[~self._seen[nbrs]]
        self._queue = deque(int(i) for i in self.rng.permutation(nbrs))
        self._maybe_restart()  # every neighbour already evaluated: a local optimum at once

    def _maybe_restart(self) -> None:
        """Called when the climb may be over: move (best-improvement) or restart from the pool."""
        if self._incumbent is None or self._queue or self._pending_nbrs:
            return
        if self._best_nbr is not None and self._best_nbr[0] > self._incumbent[0]:
            self.n_moves += 1
            self._start_climb(self._best_nbr)
            return
        # local optimum: restart from the pool once it holds num_init observations
        self._incumbent = None
        self._step += 1
        self.n_restarts += 1
        self._restart_if_ready()

    def _restart_if_ready(self) -> None:
        if self._incumbent is None and len(self._pool) >= self.num_init:
            best = max(self._pool)  # ties: the larger index, deterministic
            self._pool = []
            self._start_climb(best)

    # ---- ask/tell -----------------------------------------------------------------------------------
    def ask(self) -> Trial:
        while self._queue and self._seen[self._queue[0]]:  # evaluated meanwhile as a restart cell
            self._queue.popleft()
        self._maybe_restart()
        if self._incumbent is not None and self._queue:
            index = self._queue.popleft()
            self._pending_nbrs += 1
            self._mark(index)
            trial = self._new_trial(index)
            self._role[trial.trial_id] = (_NBR, self._step)
            return trial
        # step 1, or a free worker while the climb waits: a random unseen cell for the restart pool
        index = self._random_unseen()
        self._mark(index)
        trial = self._new_trial(index)
        self._role[trial.trial_id] = (_INIT, self._step)
        return trial

    def tell(self, trial: Trial, obs: Observation) -> None:
        role, step = self._role.pop(trial.trial_id, (_INIT, -1))
        if self._incumbent is None:
            role = _INIT  # a neighbour that arrives between climbs: a candidate for the next start
        acc = float(obs.valid_acc)
        if not np.isfinite(acc):
            acc = -np.inf
        self._acc[trial.index] = acc
        cell = (acc, int(trial.index))
        if role == _INIT:
            self._pool.append(cell)
            self._maybe_restart()
            self._restart_if_ready()
            return
        if step == self._step:
            self._pending_nbrs -= 1
        if self._incumbent is not None and acc > self._incumbent[0]:
            if self.first_improvement or step != self._step:
                self.n_moves += 1
                self._start_climb(cell)
                return
            if self._best_nbr is None or cell > self._best_nbr:
                self._best_nbr = cell
        self._maybe_restart()
