"""Drive one strategy against a benchmark on a simulated clock, as Syne Tune's simulator backend does.

``n_workers`` asynchronous workers share an event queue (heapq) ordered by finish time; each evaluation
occupies its worker for ``benchmark.cost(cell, fidelity)`` simulated seconds, and ``ask`` is called whenever a
worker is free. The strategy observes one seed's validation accuracy, drawn with a uniform that is a function of
``(seed, trial)`` alone (:func:`noise_uniforms`), so a resumed run (or a different number of processes) draws
exactly the same values.
The recorded truth is the seed-mean validation accuracy at the benchmark's top fidelity (``true_acc``) and the
seed-mean test accuracy (``test_acc``, NaN when the benchmark does not know it, e.g. NB201 cifar10).

Usage::

    runner = Runner(load_benchmark("nb201"), dataset="cifar10", seed=0, budget_queries=200)
    traj = runner.run("rea")            # a registered name, a Strategy class, or an instance with seed=0
    traj.regret()                       # incumbent regret after each evaluation (percentage points)

Budgets: ``budget_queries`` caps the number of evaluations started; ``budget_seconds`` stops starting
evaluations once the simulated clock reaches it, and evaluations finishing after it are not recorded (their
results arrive too late). With both, whichever is hit first ends the run.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.errors import NasscoutError

MAX_WORKERS = 1024
# Columns of one row in a Trajectory (the run-level columns strategy/seed/benchmark/dataset live on it).
TRAJECTORY_FIELDS = (
    "trial",
    "index",
    "fidelity",
    "observed_acc",
    "true_acc",
    "test_acc",
    "cost_s",
    "sim_time_s",
    "wall_time_s",
    "params_m",
    "latency_s",
    "train_time_s",
    "flops_m",
)
# What an evaluation yields, in this order (a plain tuple: this is the hot path).
_VALUES = (
    "observed_acc",
    "true_acc",
    "test_acc",
    "cost_s",
    "params_m",
    "latency_s",
    "train_time_s",
    "flops_m",
)


NOISE_BLOCK = 64


def noise_uniforms(seed: int, block: int) -> list[float]:
    """The uniforms of trials ``block * 64 .. block * 64 + 63`` in run ``seed``.

    Trial t of run s observes with u(s, t) = ``default_rng([s, t // 64]).random(64)[t % 64]``: a function of
    (seed, trial) alone, so a resumed or re-partitioned run draws the same values. Blocks of 64 make the
    draw ~50x cheaper than one Generator per trial (creating a Generator costs ~13 us).
    """
    return np.random.default_rng([seed, block]).random(NOISE_BLOCK).tolist()


def noise_rng(seed: int, trial: int) -> np.random.Generator:
    """A Generator whose next ``random()`` is u(seed, trial), for ``benchmark.query(..., seed=rng)``."""
    rng = np.random.default_rng([seed, trial // NOISE_BLOCK])
    rng.random(trial % NOISE_BLOCK)
    return rng


# ---- evaluation backends -------------------------------------------------------------------------------------
class TableLookup:
    """One dataset of a tabular benchmark as plain per-cell Python lists, read once through its public API.

    Building costs ~0.1 s and is shared by every run of the process; afterwards an evaluation is a few list
    reads. The noisy draw picks among a cell's recorded seeds exactly as ``TabularBenchmark.query`` does with a
    Generator (``tests/test_runner.py`` checks that they agree bit for bit).
    """

    def __init__(self, benchmark: Any, dataset: str) -> None:
        space = benchmark.space
        n = space.N_CELLS
        cells = np.asarray(getattr(benchmark, "cells", space.all_indices), dtype=np.int64)
        self.known = np.zeros(n, dtype=bool)
        self.known[cells] = True
        fids = _fidelities(benchmark, dataset)
        top = max(fids)

        def full(values: np.ndarray) -> list[float]:
            out = np.full(n, np.nan)
            out[cells] = values
            return out.tolist()

        mean = benchmark.query(cells, dataset=dataset, fidelity=top, seed="mean")
        self.true = full(mean.valid_acc)
        self.test = full(mean.test_acc)
        self.params = full(mean.params_m)
        self.latency = full(mean.latency_s)
        self.flops = full(mean.flops_m)
        self.cost: dict[int, list[float]] = {}
        self.train_time: dict[int, list[float]] = {}
        self.draws: dict[int, list[list[float]]] = {}
        for f in fids:
            self.cost[f] = full(benchmark.cost(cells, dataset=dataset, fidelity=f))
            self.train_time[f] = full(
                benchmark.query(cells, dataset=dataset, fidelity=f, seed="mean").train_time_s
            )
            per_seed = np.column_stack(
                [
                    benchmark.query(cells, dataset=dataset, fidelity=f, seed=s).valid_acc
                    for s in benchmark.seeds(dataset, f)
                ]
            )
            draws: list[list[float]] = [[] for _ in range(n)]
            for cell, row in zip(cells.tolist(), per_seed.tolist()):
                draws[cell] = [v for v in row if v == v]  # recorded seeds, in column order
            self.draws[f] = draws


_LOOKUPS: dict[tuple[int, str], TableLookup] = {}


def table_lookup(benchmark: Any, dataset: str) -> TableLookup:
    key = (id(benchmark), dataset)
    if key not in _LOOKUPS:
        _LOOKUPS[key] = TableLookup(benchmark, dataset)
    return _LOOKUPS[key]


def _fidelities(benchmark: Any, dataset: str) -> tuple[int, ...]:
    if hasattr(benchmark, "fidelities_for"):
        return tuple(benchmark.fidelities_for(dataset))
    return tuple(benchmark.fidelities)


def _missing_cell(benchmark: Any, index: int) -> NasscoutError:
    return NasscoutError(
        f"cell {index} ({benchmark.space.format(index)}) is not in benchmark "
        f"{getattr(benchmark, 'name', '?')!r}; the strategy proposed a cell the benchmark cannot answer"
    )


class TableEvaluator:
    """Answers from a :class:`TableLookup` (any benchmark with recorded seeds: ``seeds(dataset, fidelity)``)."""

    def __init__(self, benchmark: Any, dataset: str, seed: int) -> None:
        self.benchmark = benchmark
        self.table = table_lookup(benchmark, dataset)
        self.seed = seed
        self._block = -1
        self._uniforms: list[float] = []

    def __call__(self, index: int, fidelity: int, trial: int) -> tuple:
        t = self.table
        draws = t.draws[fidelity][index]
        if draws:
            block, pos = divmod(trial, NOISE_BLOCK)
            if block != self._block:
                self._uniforms = noise_uniforms(self.seed, block)
                self._block = block
            observed = draws[int(self._uniforms[pos] * len(draws))]
        elif not t.known[index]:
            raise _missing_cell(self.benchmark, index)
        else:
            observed = math.nan
        return (
            observed,
            t.true[index],
            t.test[index],
            t.cost[fidelity][index],
            t.params[index],
            t.latency[index],
            t.train_time[fidelity][index],
            t.flops[index],
        )


class QueryEvaluator:
    """Answers by calling ``benchmark.query`` per evaluation (benchmarks without recorded seeds)."""

    def __init__(self, benchmark: Any, dataset: str, seed: int) -> None:
        self.benchmark = benchmark
        self.dataset = dataset
        self.seed = seed
        self.top = max(_fidelities(benchmark, dataset))

    def __call__(self, index: int, fidelity: int, trial: int) -> tuple:
        b, ds, cell = self.benchmark, self.dataset, np.array([index])
        obs = b.query(cell, dataset=ds, fidelity=fidelity, seed=noise_rng(self.seed, trial))
        truth = b.query(cell, dataset=ds, fidelity=self.top, seed="mean")
        cost = b.cost(cell, dataset=ds, fidelity=fidelity)
        return (
            float(obs.valid_acc[0]),
            float(truth.valid_acc[0]),
            float(truth.test_acc[0]),
            float(cost[0]),
            float(obs.params_m[0]),
            float(obs.latency_s[0]),
            float(obs.train_time_s[0]),
            float(obs.flops_m[0]),
        )


# ---- results of one run ----------------------------------------------------------------------------------------
@dataclass
class Trajectory:
    """Every evaluation of one run (one strategy, one seed), in completion order."""

    strategy: str
    seed: int
    benchmark: str
    dataset: str
    rows: list[tuple]  # TRAJECTORY_FIELDS order
    top_fidelity: int
    best_valid_acc: float  # the benchmark's best seed-mean validation accuracy on this dataset

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        i = TRAJECTORY_FIELDS.index(name)
        return np.array([r[i] for r in self.rows])

    def regret(
        self, best_valid_acc: float | None = None, top_fidelity: int | None = None
    ) -> np.ndarray:
        """Regret (points) of the incumbent after each evaluation (see :func:`incumbent_regret`), against
        the benchmark's best unless ``best_valid_acc`` is given."""
        best = self.best_valid_acc if best_valid_acc is None else best_valid_acc
        top = self.top_fidelity if top_fidelity is None else top_fidelity
        return incumbent_regret(
            self.column("observed_acc"),
            self.column("true_acc"),
            self.column("fidelity") == top,
            best,
        )

    def to_frame(self):  # -> pandas.DataFrame (pandas imported lazily)
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=list(TRAJECTORY_FIELDS))
        return df.assign(
            strategy=self.strategy, seed=self.seed, benchmark=self.benchmark, dataset=self.dataset
        )


def incumbent_positions(observed: np.ndarray, at_top: np.ndarray) -> np.ndarray:
    """After each evaluation, the position of the incumbent: the evaluation with the best *observed*
    accuracy so far among top-fidelity ones (the first wins ties); -1 before there is one."""
    obs = np.where(np.asarray(at_top) & ~np.isnan(observed), observed, -np.inf)
    if len(obs) == 0:
        return np.empty(0, dtype=np.int64)
    running = np.maximum.accumulate(obs)
    improved = np.r_[obs[0] > -np.inf, obs[1:] > running[:-1]]
    return np.maximum.accumulate(np.where(improved, np.arange(len(obs)), -1))


def incumbent_regret(
    observed: np.ndarray, true: np.ndarray, at_top: np.ndarray, best_valid_acc: float
) -> np.ndarray:
    """``best - true_acc(incumbent)`` after each evaluation (percentage points); NaN before an incumbent."""
    pos = incumbent_positions(observed, at_top)
    out = np.full(len(pos), np.nan)
    ok = pos >= 0
    out[ok] = best_valid_acc - np.asarray(true)[pos[ok]]
    return out


# ---- the runner ----------------------------------------------------------------------------------------------------
def _check_int(value: Any, what: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise NasscoutError(f"{what} {value!r} is invalid; accepted: an integer {low}..{high:,}")
    return int(value)


class Runner:
    """Runs strategies against one dataset of a benchmark with one seed, on the simulated clock."""

    def __init__(
        self,
        benchmark: Any,
        *,
        dataset: str,
        seed: int = 0,
        n_workers: int = 1,
        budget_queries: int | None = None,
        budget_seconds: float | None = None,
    ) -> None:
        self.benchmark = benchmark
        self.dataset = benchmark.dataset(dataset) if hasattr(benchmark, "dataset") else dataset
        self.seed = _check_int(seed, "seed", 0, 2**32 - 1)
        self.n_workers = _check_int(n_workers, "n_workers", 1, MAX_WORKERS)
        self.fidelities = _fidelities(benchmark, self.dataset)
        self.top_fidelity = max(self.fidelities)
        space = benchmark.space
        # every (cell, fidelity) once: a budget beyond that is a typo, not an experiment
        self.max_queries = space.N_CELLS * len(self.fidelities)
        if budget_queries is None and budget_seconds is None:
            raise NasscoutError("no budget given; set budget_queries and/or budget_seconds")
        if budget_queries is not None:
            budget_queries = _check_int(budget_queries, "budget_queries", 1, self.max_queries)
        if budget_seconds is not None:
            budget_seconds = self._check_seconds(budget_seconds)
        self.budget_queries = budget_queries
        self.budget_seconds = budget_seconds
        self.best_index, self.best_valid_acc = benchmark.best(self.dataset)
        self._evaluator_cls = TableEvaluator if hasattr(benchmark, "seeds") else QueryEvaluator

    def _check_seconds(self, value: Any) -> float:
        cap = self.max_seconds()
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not 0 < v <= cap:
            raise NasscoutError(
                f"budget_seconds {value!r} is invalid; accepted: more than 0 and at most {cap:,.0f} "
                f"(the simulated time to train every cell of {self.dataset} at every fidelity)"
            )
        return v

    def max_seconds(self) -> float:
        cells = getattr(self.benchmark, "cells", self.benchmark.space.all_indices)
        return float(
            sum(
                np.nansum(self.benchmark.cost(cells, dataset=self.dataset, fidelity=f))
                for f in self.fidelities
            )
        )

    @property
    def context(self) -> SearchContext:
        return SearchContext(
            fidelities=self.fidelities,
            budget_queries=self.budget_queries,
            budget_seconds=self.budget_seconds,
            n_workers=self.n_workers,
            dataset=self.dataset,
        )

    def make_strategy(self, strategy: str | type | Strategy, **options: Any) -> Strategy:
        """A strategy instance seeded with the run seed (from a registered name, a class, or as given)."""
        if isinstance(strategy, Strategy):
            if options:
                raise NasscoutError("options apply to a strategy name or class, not to an instance")
            if strategy.seed != self.seed:
                raise NasscoutError(
                    f"strategy seed {strategy.seed} differs from the run seed {self.seed}; they must match"
                )
            return strategy
        if isinstance(strategy, str):
            from strategies.registry import get_strategy

            strategy = get_strategy(strategy)
        return strategy(self.benchmark.space, seed=self.seed, context=self.context, **options)

    def _check_trial(self, trial: Any, name: str) -> tuple[int, int]:
        if not isinstance(trial, Trial):
            raise NasscoutError(
                f"strategy {name!r} returned {trial!r} from ask(); it must return a Trial"
            )
        index = trial.index
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise NasscoutError(
                f"strategy {name!r} proposed cell {index!r}; accepted: an int index"
            )
        if not 0 <= index < self.benchmark.space.N_CELLS:
            raise NasscoutError(
                f"strategy {name!r} proposed cell {index}, outside 0..{self.benchmark.space.N_CELLS - 1}"
            )
        fid = self.top_fidelity if trial.fidelity is None else trial.fidelity
        if fid not in self.fidelities:
            raise NasscoutError(
                f"strategy {name!r} asked for fidelity {trial.fidelity!r}; accepted: "
                f"{', '.join(map(str, self.fidelities))} epochs (or None for the most)"
            )
        return int(index), int(fid)

    def run(
        self,
        strategy: str | type | Strategy,
        *,
        options: dict[str, Any] | None = None,
        journal: Any = None,
        replay: dict[int, dict[str, Any]] | None = None,
        on_row: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Trajectory:
        """Search until the budget is spent and return every evaluation.

        ``journal`` (a :class:`~strategies.journal.JournalWriter`) receives each new evaluation; ``replay``
        (trial -> journaled row, from an interrupted run) is fed back instead of evaluating again, after
        checking that the strategy proposes exactly the journaled cells.
        """
        strat = self.make_strategy(strategy, **(options or {}))
        name = name or (strategy if isinstance(strategy, str) else type(strat).name)
        evaluate = self._evaluator_cls(self.benchmark, self.dataset, self.seed)
        replay = replay or {}
        limit_q = self.budget_queries or self.max_queries
        limit_t = self.budget_seconds if self.budget_seconds is not None else math.inf
        seed = self.seed
        wall0 = time.perf_counter()
        wall_offset = max((r["wall_time_s"] or 0.0 for r in replay.values()), default=0.0)
        heap: list[tuple] = []
        rows: list[tuple] = []
        push, pop = heapq.heappush, heapq.heappop
        now, asked, free, replayed = 0.0, 0, self.n_workers, 0
        while True:
            while free and asked < limit_q and now < limit_t:
                trial = strat.ask()
                if trial is None:
                    if not heap:
                        raise NasscoutError(
                            f"strategy {name!r} proposed nothing (ask() returned None) while no trial was "
                            "running; None is allowed only while trials are pending"
                        )
                    break
                index, fid = self._check_trial(trial, name)
                old = replay.get(asked)
                if old is None:
                    values = evaluate(index, fid, asked)
                else:
                    if old["index"] != index or old["fidelity"] != fid:
                        raise NasscoutError(
                            f"cannot resume: strategy {name!r} (seed {seed}) proposed cell {index} at {fid} "
                            f"epochs as trial {asked}, but the journal recorded cell {old['index']} at "
                            f"{old['fidelity']} epochs; the strategy's code or options changed since the run "
                            "started. Start a new run with another --out"
                        )
                    values = tuple(math.nan if old[k] is None else old[k] for k in _VALUES)
                cost = values[3]
                if not cost >= 0:
                    raise NasscoutError(
                        f"benchmark has no training time for cell {index} at {fid} epochs on {self.dataset}, "
                        "so the simulated clock cannot advance"
                    )
                push(heap, (now + cost, asked, trial, index, fid, values, old))
                asked += 1
                free -= 1
            if not heap:
                break
            finish, k, trial, index, fid, values, old = pop(heap)
            if finish > limit_t:
                break
            now = finish
            free += 1
            observed, true, test, cost, params, latency, train_time, flops = values
            if old is None:
                wall = wall_offset + time.perf_counter() - wall0
                if journal is not None:
                    journal.add_evaluation(
                        (name, seed, k, index, fid, observed, true, test, cost, finish, wall, params,
                         latency, train_time, flops)
                    )  # fmt: skip
            else:
                if old["sim_time_s"] != finish:
                    raise NasscoutError(
                        f"cannot resume: trial {k} of {name!r} (seed {seed}) finishes at simulated "
                        f"{finish!r} s but the journal says {old['sim_time_s']!r} s; the journal does not "
                        "belong to this configuration"
                    )
                wall = old["wall_time_s"]
                replayed += 1
            rows.append(
                (
                    k,
                    index,
                    fid,
                    observed,
                    true,
                    test,
                    cost,
                    finish,
                    wall,
                    params,
                    latency,
                    train_time,
                    flops,
                )
            )
            strat.tell(trial, Observation(observed, fid, cost, params, latency, flops, train_time))
            if on_row is not None:
                on_row()
        if replayed != len(replay):
            raise NasscoutError(
                f"cannot resume: the journal holds {len(replay)} evaluations of {name!r} (seed {seed}) but "
                f"the run reproduced only {replayed} of them; the journal belongs to another configuration"
            )
        return Trajectory(
            name,
            seed,
            getattr(self.benchmark, "name", "?"),
            self.dataset,
            rows,
            self.top_fidelity,
            self.best_valid_acc,
        )
