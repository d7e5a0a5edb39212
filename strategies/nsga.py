"""Multi-objective evolution: NSGA-II (Deb et al. 2002) and the CARS paper's pNSGA-III (Yang et al., CVPR 2020).

Both search accuracy against cost; the class attribute ``objectives`` tells the report that a strategy is
multi-objective and which pair to show a Pareto front and hypervolume for.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import deque

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from strategies.moves import random_shifts, shift_one
from strategies.pareto import crowding_distance, fronts, non_dominated_sort
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

# objective name -> (Observation attribute, maximised?)
OBJECTIVES: dict[str, tuple[str, bool]] = {
    "valid_acc": ("valid_acc", True),
    "params_m": ("params_m", False),
    "flops_m": ("flops_m", False),
    "latency_s": ("latency_s", False),
    "train_time_s": ("train_time_s", False),
    "cost_s": ("cost_s", False),
}
COSTS = tuple(k for k, (_, up) in OBJECTIVES.items() if not up)


def _check_prob(name: str, strategy: str, p: float) -> float:
    if not (isinstance(p, (int, float)) and 0 <= p <= 1):
        raise NasscoutError(f"{strategy}: {name} {p!r} is invalid; accepted: a probability 0..1")
    return float(p)


def _check_pop(strategy: str, n: int) -> int:
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise NasscoutError(f"{strategy}: pop_size {n!r} is invalid; accepted: an integer >= 2")
    return int(n)


def _check_recorded(strategy: str, objectives: tuple[str, ...], context: SearchContext) -> None:
    """One line at construction when the context says the benchmark lacks an objective (else at first tell)."""
    if context.metrics is None:
        return
    missing = [o for o in objectives if o != "valid_acc" and o not in context.metrics]
    if missing:
        raise NasscoutError(
            f"{strategy}: objective {missing[0]!r} is not recorded for dataset {context.dataset!r}; "
            f"accepted here: valid_acc with any of {', '.join(context.metrics) or 'none'}"
        )


def nsga2_select(f: np.ndarray, n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """NSGA-II environmental selection: rows (sorted) of the ``n_keep`` survivors of ``f`` (all minimised).

    Whole fronts are kept best first; the front that does not fit is cut by crowding distance (loneliest
    first, random ties), which keeps its extremes.
    """
    keep: list[np.ndarray] = []
    n = 0
    for fr in fronts(f):
        if n + len(fr) <= n_keep:
            keep.append(fr)
            n += len(fr)
            if n == n_keep:
                break
            continue
        cd = crowding_distance(f[fr])
        order = np.lexsort((rng.random(len(fr)), -cd))
        keep.append(fr[order[: n_keep - n]])
        break
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, dtype=np.int64)


def cars_select(sortings: list[np.ndarray], n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """CARS's ``CARS_NSGA`` selection: rows (sorted) of the ``n_keep`` survivors.

    ``sortings`` are objective matrices over the same rows (all minimised); each is non-dominated sorted on
    its own, then stage k takes the union of the k-th fronts of all sortings. Stages are kept whole while they
    fit; from the first that does not, the not yet kept rows are sampled at random (as the CARS code does).
    """
    per = [fronts(f) for f in sortings]
    n_rows = len(sortings[0])
    selected = np.zeros(n_rows, dtype=bool)
    target = min(n_keep, n_rows)
    stage = 0
    while selected.sum() < target:
        parts = [fr[stage] for fr in per if len(fr) > stage]
        fresh = np.unique(np.concatenate(parts))
        fresh = fresh[~selected[fresh]]
        room = target - int(selected.sum())
        if len(fresh) > room:
            fresh = rng.choice(fresh, size=room, replace=False)
        selected[fresh] = True
        stage += 1
    return np.flatnonzero(selected)


class _Evolver(Strategy):
    """Shared machinery: unseen-cell bookkeeping, the offspring queue and the uniform crossover/mutation."""

    def __init__(
        self, space: SearchSpace, *, seed: int, context: SearchContext | None, pop_size: int
    ):
        super().__init__(space, seed=seed, context=context)
        self.pop_size = _check_pop(self.name, pop_size)
        self._seen = np.zeros(space.n_cells, dtype=bool)
        self._n_seen = 0
        self._queue: deque[int] = deque()
        self.generation = 0  # environmental selections done

    def _claim(self, index: int) -> int:
        if not self._seen[index]:
            self._seen[index] = True
            self._n_seen += 1
        return int(index)

    def _random_unseen(self) -> int:
        if self._n_seen >= len(self.space.candidates):
            return self._random_cell()
        while True:
            i = self._random_cell()
            if not self._seen[i]:
                return i

    def _unique(self, make, tries: int = 100) -> int:
        """An unseen child from ``make()`` (a choice vector); a random unseen cell if ``tries`` children repeat
        or are no cell of the space (-1)."""
        for _ in range(tries):
            child = int(self.space.indices_from_ops(make(), strict=False)[0])
            if child >= 0 and not self._seen[child]:
                return child
        return self._random_unseen()

    def _refill(self) -> None:
        """Breed the next generation's children (claimed at once, so a batch never repeats a cell); before the
        first population exists, one random cell at a time."""
        if self._queue:
            return
        if len(self.population):
            for _ in range(self.pop_size):
                self._queue.append(self._claim(self._child()))
        else:
            self._queue.append(self._claim(self._random_unseen()))

    @abstractmethod
    def _child(self) -> int:
        """One new child cell, bred the algorithm's way."""

    def _crossover(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Uniform crossover over the positions: each position's choice from either parent with probability 1/2.

        The child vector may be no cell, or name a cell already seen; ``_unique`` breeds again then."""
        return np.where(self.rng.random(self.space.n_positions) < 0.5, a, b)

    def _mutate(self, ops: np.ndarray, rate: float) -> np.ndarray:
        """Each position, with probability ``rate``, takes one of its other choices."""
        card = self.space.cardinalities
        hit = self.rng.random(len(card)) < rate
        shift = random_shifts(self.rng, card)
        return np.where(hit, (ops + shift) % card, ops)


class NSGA2(_Evolver):
    """NSGA-II: non-dominated sorting + crowding distance, binary tournaments, uniform crossover + mutation.

    Per generation ``pop_size`` children are bred from the population: each parent is the winner of a binary
    tournament (lower front rank, then larger crowding distance, then a coin flip), the two parents are mixed by
    uniform crossover over the positions (NB201: 6 edges) with probability ``crossover_prob`` (0.9, Deb et al.
    2002) and each position is mutated with probability ``mutation_prob`` (default 1/number of variables, Deb
    et al. 2002: 1/6 on NB201). Children
    already evaluated are bred again (pymoo's duplicate elimination), so no query is spent twice. Once
    ``pop_size`` children are told, parents and children are ranked together and the best ``pop_size`` survive
    (whole fronts, the last one cut by crowding distance).

    ``objectives`` (default ``("valid_acc", "params_m")``) are any of valid_acc (maximised), params_m, flops_m,
    latency_s, train_time_s, cost_s (minimised), read from each Observation; the benchmark must record them.
    ``pop_size=20`` (not pymoo's 100): a population has to evolve for several generations within the 200-query
    budgets NAS benchmarks use; NSGA-Net used 40 for a budget of about 1,000 evaluations.

    Several workers: when all children of a generation are asked but not all told, free workers get children
    of the same parents (the population only changes at selection), and selection waits for ``pop_size`` new
    results; with one worker this is the textbook generational algorithm.
    """

    name = "nsga2"
    summary = (
        "NSGA-II: multi-objective evolution of accuracy vs params (non-dominated sort + crowding)"
    )
    objectives: tuple[str, ...] = ("valid_acc", "params_m")

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        objectives: tuple[str, ...] | list[str] | str | None = None,
        pop_size: int = 20,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
    ):
        super().__init__(space, seed=seed, context=context, pop_size=pop_size)
        if objectives is None:
            objectives = type(self).objectives
        if isinstance(objectives, str):
            objectives = tuple(o.strip() for o in objectives.split(",") if o.strip())
        objectives = tuple(objectives)
        bad = [o for o in objectives if o not in OBJECTIVES]
        if bad or len(objectives) < 2 or len(set(objectives)) != len(objectives):
            raise NasscoutError(
                f"{self.name}: objectives {objectives!r} are invalid; accepted: two or more distinct names "
                f"from {', '.join(OBJECTIVES)}"
            )
        _check_recorded(self.name, objectives, self.context)
        self.objectives = objectives
        self._sign = np.array([-1.0 if OBJECTIVES[o][1] else 1.0 for o in objectives])
        self.crossover_prob = _check_prob("crossover_prob", self.name, crossover_prob)
        if mutation_prob is None:
            mutation_prob = 1 / space.n_positions
        self.mutation_prob = _check_prob("mutation_prob", self.name, mutation_prob)
        self._cells: list[int] = []  # every told cell ...
        self._f: list[np.ndarray] = []  # ... and its objectives, all minimised
        self.population = np.empty(0, dtype=np.int64)  # rows of _cells
        self._new: list[int] = []  # rows told since the last selection
        self._rank = np.empty(0, dtype=np.int64)
        self._crowd = np.empty(0)
        # choice vectors of the population, for breeding
        self._pop_ops = np.empty((0, space.n_positions), dtype=np.int64)

    # ---- objectives ---------------------------------------------------------------------------------
    def _row(self, trial: Trial, obs: Observation) -> np.ndarray:
        vals = np.array([float(getattr(obs, OBJECTIVES[o][0])) for o in self.objectives])
        if np.isnan(vals).any():
            missing = [o for o, v in zip(self.objectives, vals, strict=True) if math.isnan(v)]
            raise NasscoutError(
                f"{self.name}: objective {missing[0]!r} is not recorded for cell {trial.index} by this "
                f"benchmark; choose objectives it records (accepted names: {', '.join(OBJECTIVES)})"
            )
        return vals * self._sign

    def front(self) -> np.ndarray:
        """Cells of the current population's first front (by observed objectives)."""
        if not len(self.population):
            return np.empty(0, dtype=np.int64)
        return np.array([self._cells[r] for r in self.population])[self._rank == 0]

    # ---- selection ----------------------------------------------------------------------------------
    def _select(self) -> None:
        rows = np.r_[self.population, np.asarray(self._new, dtype=np.int64)]
        f = np.asarray([self._f[r] for r in rows])
        chosen = nsga2_select(f, self.pop_size, self.rng)
        self.population = rows[chosen]
        self._new = []
        self.generation += 1
        pf = f[chosen]
        self._pop_ops = self.space.ops(np.array([self._cells[r] for r in self.population])).astype(
            np.int64
        )
        self._rank = non_dominated_sort(pf)
        self._crowd = np.zeros(len(pf))
        for r in range(int(self._rank.max()) + 1):
            members = np.flatnonzero(self._rank == r)
            self._crowd[members] = crowding_distance(pf[members])

    def _tournament(self) -> int:
        """Binary tournament on (rank, crowding): the position of the winner in the population."""
        a, b = self.rng.integers(len(self.population), size=2)
        if self._rank[a] != self._rank[b]:
            return int(a if self._rank[a] < self._rank[b] else b)
        if self._crowd[a] != self._crowd[b]:
            return int(a if self._crowd[a] > self._crowd[b] else b)
        return int(a if self.rng.random() < 0.5 else b)

    def _child(self) -> int:
        def make() -> np.ndarray:
            p1 = self._pop_ops[self._tournament()]
            p2 = self._pop_ops[self._tournament()]
            child = self._crossover(p1, p2) if self.rng.random() < self.crossover_prob else p1
            return self._mutate(child, self.mutation_prob)

        return self._unique(make)

    # ---- ask/tell -----------------------------------------------------------------------------------
    def ask(self) -> Trial:
        self._refill()
        return self._new_trial(self._queue.popleft())

    def tell(self, trial: Trial, obs: Observation) -> None:
        self._f.append(self._row(trial, obs))
        self._cells.append(int(trial.index))
        self._new.append(len(self._cells) - 1)
        if len(self._new) >= self.pop_size:
            self._select()


class PNSGA3(_Evolver):
    """The CARS paper's pNSGA-III (Yang et al., "CARS: Continuous Evolution for Efficient Neural Architecture
    Search", CVPR 2020), on NB201's two training schedules.

    Why: plain NSGA on (accuracy, size) favours small models that learn fast; larger models that would end up
    better but converge slowly fall off the front early. CARS keeps, next to the usual front, a second one that
    rewards the *increase* of accuracy, and selects from both.

    What is implemented here:

    - every individual is trained twice, as two queries: at 12 epochs (about 6% of the time of the long run)
      and at 200 epochs. Its objectives are ``acc200`` (max), ``growth = acc200 - acc12`` (max: how much the
      long schedule gains over the short one, our measure of the paper's "increasing speed" of accuracy; the
      two are separate schedules, we compare their final values and never splice curves) and ``params_m``
      (min). A 200-query budget therefore buys 100 individuals;
    - selection is CARS's ``CARS_NSGA``: two non-dominated sortings, ``(acc200, params)`` and
      ``(growth, params)`` (with ``protect="size"``: ``(acc200, -params)``, the variant in the released vega
      code, which protects large models directly); the k-th fronts of both sortings are merged stage by stage
      until ``pop_size`` individuals are kept, the last stage sampled at random;
    - offspring as CARS's ``gen_offspring``: for each child, with probability 1/4 a one-choice mutation of a
      random parent, 1/4 a uniform crossover of two random parents, otherwise a new random cell; children
      already evaluated are redrawn.

    Not implemented: CARS's supernet weight sharing (NB201 answers are tabular, nothing to share) and NSGA-III's
    reference-point niching (CARS_NSGA does not use it either). ``pop_size=20`` for the same reason as nsga2.
    """

    name = "pnsga3"
    summary = "pNSGA-III (CARS): accuracy vs params, protecting slow-converging models via 12->200 epoch growth"
    multi_fidelity = True
    objectives: tuple[str, ...] = ("valid_acc", "params_m")

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        pop_size: int = 20,
        protect: str = "growth",
        mutation_share: float = 0.25,
        crossover_share: float = 0.25,
    ):
        super().__init__(space, seed=seed, context=context, pop_size=pop_size)
        if protect not in ("growth", "size"):
            raise NasscoutError(f"pnsga3: protect {protect!r} is invalid; accepted: growth, size")
        self.protect = protect
        self.mutation_share = _check_prob("mutation_share", self.name, mutation_share)
        self.crossover_share = _check_prob("crossover_share", self.name, crossover_share)
        if self.mutation_share + self.crossover_share > 1:
            raise NasscoutError(
                f"pnsga3: mutation_share + crossover_share = "
                f"{self.mutation_share + self.crossover_share} is invalid; accepted: at most 1"
            )
        fids = sorted({int(f) for f in self.context.fidelities})
        if protect == "growth" and len(fids) < 2:
            raise NasscoutError(
                f"pnsga3: protect='growth' needs two fidelities, the benchmark has {fids}; "
                "accepted here: protect='size'"
            )
        _check_recorded(self.name, self.objectives, self.context)
        self.short, self.long = (fids[0], fids[-1]) if len(fids) > 1 else (None, fids[-1])
        self._partial: dict[int, dict] = {}  # cell -> what is known so far
        self._pending_trials: deque[tuple[int, int]] = deque()  # (cell, fidelity) ready to ask
        self.individuals: list[dict] = []  # complete: {"index", "acc", "short", "growth", "params"}
        self.population = np.empty(0, dtype=np.int64)  # rows of individuals
        self._new: list[int] = []

    # ---- selection (CARS_NSGA) ------------------------------------------------------------------------
    def _select(self) -> None:
        rows = np.r_[self.population, np.asarray(self._new, dtype=np.int64)]
        ind = [self.individuals[r] for r in rows]
        acc = np.array([i["acc"] for i in ind])
        params = np.array([i["params"] for i in ind])
        if self.protect == "growth":
            second = np.c_[-np.array([i["growth"] for i in ind]), params]
        else:
            second = np.c_[-acc, -params]
        self.population = rows[cars_select([np.c_[-acc, params], second], self.pop_size, self.rng)]
        self._new = []
        self.generation += 1

    def front(self) -> np.ndarray:
        """Cells of the population's (acc200, params) first front."""
        if not len(self.population):
            return np.empty(0, dtype=np.int64)
        ind = [self.individuals[r] for r in self.population]
        f = np.c_[-np.array([i["acc"] for i in ind]), [i["params"] for i in ind]]
        cells = np.array([i["index"] for i in ind])
        return cells[non_dominated_sort(f) == 0]

    # ---- breeding -----------------------------------------------------------------------------------
    def _child(self) -> int:
        cells = [self.individuals[r]["index"] for r in self.population]

        def make() -> np.ndarray:
            u = self.rng.random()
            if u < self.mutation_share:
                p = self.space.ops(cells[int(self.rng.integers(len(cells)))])[0]
                return shift_one(self.rng, p, self.space.cardinalities)
            if u < self.mutation_share + self.crossover_share:
                a, b = self.rng.integers(len(cells), size=2)
                return self._crossover(
                    self.space.ops(cells[a])[0].astype(np.int64),
                    self.space.ops(cells[b])[0].astype(np.int64),
                )
            return self.space.ops(self._random_unseen())[0].astype(np.int64)

        return self._unique(make)

    def _enqueue(self, index: int) -> None:
        self._partial[index] = {"index": index}
        if self.short is not None:
            self._pending_trials.append((index, self.short))
        self._pending_trials.append((index, self.long))

    # ---- ask/tell -----------------------------------------------------------------------------------
    def ask(self) -> Trial:
        if not self._pending_trials:
            self._refill()
            self._enqueue(self._queue.popleft())
        index, fidelity = self._pending_trials.popleft()
        return self._new_trial(index, fidelity=fidelity)

    def tell(self, trial: Trial, obs: Observation) -> None:
        part = self._partial.get(int(trial.index))
        if part is None:
            return  # a repeat of a finished cell (only once the whole space is evaluated)
        acc = float(obs.valid_acc)
        fid = int(trial.fidelity) if trial.fidelity is not None else self.long
        if fid == self.long:
            params = float(obs.params_m)
            if math.isnan(params):
                raise NasscoutError(
                    f"pnsga3: params_m is not recorded for cell {trial.index} by this benchmark; "
                    "pnsga3 needs it (accepted: a benchmark with parameter counts, e.g. nb201)"
                )
            part["acc"], part["params"] = acc, params
        else:
            part["short"] = acc
        if "acc" in part and (self.short is None or "short" in part):
            part["growth"] = part["acc"] - part.get("short", 0.0)
            del self._partial[int(trial.index)]
            self.individuals.append(part)
            self._new.append(len(self.individuals) - 1)
            if len(self._new) >= self.pop_size:
                self._select()
