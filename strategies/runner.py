"""Drive one strategy against a benchmark through a backend: the scheduler loop of every search.

The loop asks the strategy whenever a worker is free, submits the trial to the backend
(``strategies.backends``: simulated clock, local process pool, or Dask) and tells the strategy each result
as the backend releases it. With the simulated backend, ``n_workers`` asynchronous workers share an event
queue ordered by finish time and each evaluation occupies its worker for ``benchmark.cost(cell, fidelity)``
simulated seconds; results are bit-identical for a seed. How a trial becomes a value (one seed's noisy value
or the seed-mean, ``observe``) is ``strategies.evaluators``.

Usage::

    runner = Runner(load_benchmark("nb201"), dataset="cifar10", seed=0, budget_queries=200)
    traj = runner.run("rea")            # a registered name, a Strategy class, or an instance with seed=0
    traj.regret()                       # incumbent regret after each evaluation (percentage points)

Budgets: ``budget_queries`` caps the number of evaluations started; ``budget_seconds`` stops starting
evaluations once the backend's clock reaches it, and evaluations finishing after it are not recorded (their
results arrive too late). With both, whichever is hit first ends the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.backends import Backend, Job, ReplayBackend, SimulatedBackend
from strategies.base import Observation, SearchContext, Strategy, Trial
from strategies.evaluators import (  # noqa: F401 - re-exported: the runner's public vocabulary
    QueryEvaluator,
    TableEvaluator,
    check_observe,
    noise_rng,
    noise_uniforms,
    table_lookup,
)
from strategies.pruning import EarlyStop, Pruner, check_benchmark
from strategies.row import ROW_FIELDS, Row
from surrogate.errors import NasscoutError

MAX_WORKERS = 1024
# Columns of one row of a Trajectory after the run-level strategy and seed (kept for readers of old code).
TRAJECTORY_FIELDS = ROW_FIELDS[2:]


# ---- results of one run ----------------------------------------------------------------------------------------
@dataclass
class Trajectory:
    """Every evaluation of one run (one strategy, one seed), in completion order."""

    strategy: str
    seed: int
    benchmark: str
    dataset: str
    rows: list[Row]
    top_fidelity: int
    best_valid_acc: float  # the benchmark's best seed-mean validation accuracy on this dataset

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        i = ROW_FIELDS.index(name)
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
            (self.column("fidelity") == top) & (self.column("stopped_at") == 0),
            best,
        )

    def to_frame(self):  # -> pandas.DataFrame (pandas imported lazily)
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=list(ROW_FIELDS))
        return df.assign(benchmark=self.benchmark, dataset=self.dataset)


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


def plugin_failure(exc: BaseException, name: str, where: str, detail: str = "") -> NasscoutError:
    """One line for an exception raised inside a user's strategy (its traceback kept for --debug, also
    across worker processes)."""
    import traceback

    from surrogate.plugins import PluginError

    text = str(exc).strip().splitlines()
    err = PluginError(
        f"strategy {name!r} raised {type(exc).__name__}"
        f"{': ' + text[0][:160] if text else ''} in {where}{detail}; --debug shows its traceback"
    )
    err.detail = "".join(traceback.format_exception(exc))
    return err


def _guarded(fn: Callable, name: str, where: str, seed: int) -> Callable:
    """``fn`` with anything but a NasscoutError re-raised as one PluginError line."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except NasscoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - the plugin's own bug, reported in one line
            raise plugin_failure(
                exc,
                name,
                where,
                f" (seed {seed}); the evaluations before it are kept in the journal and "
                "--resume continues from them (with the same plugin code and options)",
            ) from exc

    return call


# ---- the runner ----------------------------------------------------------------------------------------------------
def _is_builtin(cls: Any) -> bool:
    return str(getattr(cls, "__module__", "")).split(".")[0] == "strategies"


def _check_int(value: Any, what: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise NasscoutError(f"{what} {value!r} is invalid; accepted: an integer {low}..{high:,}")
    return int(value)


class Runner:
    """Runs strategies against one dataset of a benchmark with one seed, through one backend."""

    def __init__(
        self,
        benchmark: Any,
        *,
        dataset: str,
        seed: int = 0,
        n_workers: int = 1,
        budget_queries: int | None = None,
        budget_seconds: float | None = None,
        observe: str = "seed",
        backend: Backend | None = None,
        spec: str | None = None,
        early_stop: EarlyStop | None = None,
    ) -> None:
        self.benchmark = benchmark
        self.dataset = benchmark.dataset(dataset)
        self.seed = _check_int(seed, "seed", 0, 2**32 - 1)
        self.n_workers = _check_int(n_workers, "n_workers", 1, MAX_WORKERS)
        self.observe = check_observe(observe)
        self.backend = backend if backend is not None else SimulatedBackend()
        self.spec = spec or benchmark.name  # how a worker process opens the benchmark again
        self.fidelities = tuple(benchmark.fidelities_for(self.dataset))
        self.top_fidelity = max(self.fidelities)
        self.cells = np.asarray(benchmark.cells_for(self.dataset), dtype=np.int64)
        # a table or a surrogate answers only its cells (a surrogate: every cell whose ops its data trained):
        # strategies see a view of the space that proposes only those (real training trains any cell)
        space = benchmark.space
        self.space = space.restricted(self.cells) if benchmark.kind != "training" else space
        # every (cell, fidelity) once: a budget beyond that is a typo, not an experiment
        self.max_queries = benchmark.space.n_cells * len(self.fidelities)
        if budget_queries is None and budget_seconds is None:
            raise NasscoutError("no budget given; set budget_queries and/or budget_seconds")
        if budget_queries is not None:
            budget_queries = _check_int(budget_queries, "budget_queries", 1, self.max_queries)
        if budget_seconds is not None:
            budget_seconds = self._check_seconds(budget_seconds)
        self.budget_queries = budget_queries
        self.budget_seconds = budget_seconds
        self.best_index, self.best_valid_acc = benchmark.best(self.dataset)
        self.early_stop = early_stop if early_stop is not None else EarlyStop()
        check_benchmark(self.early_stop, benchmark, self.dataset)
        if self.early_stop.active and self.backend.clock != "simulated":
            raise NasscoutError(
                f"--early-stop {self.early_stop.rule} runs on the simulated clock over a table's curves; "
                f"the {self.backend.name} backend cannot stop a training midway yet; use --backend simulated"
            )
        self.metrics = self._recorded_metrics()

    def _recorded_metrics(self) -> tuple[str, ...]:
        """Observation fields the benchmark records for this dataset (for strategies with objectives)."""
        rec = self.benchmark.query(self.cells, dataset=self.dataset, seed="mean")
        out = ["cost_s"]
        for name in ("params_m", "flops_m", "latency_s", "train_time_s"):
            if np.any(np.isfinite(getattr(rec, name))):
                out.append(name)
        return tuple(out)

    def _check_seconds(self, value: Any) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if self.backend.clock == "wall":  # real time: any positive budget is meaningful
            if not 0 < v < math.inf:
                raise NasscoutError(
                    f"budget_seconds {value!r} is invalid; accepted: a number of seconds > 0"
                )
            return v
        cap = self.max_seconds()
        if not 0 < v <= cap:
            raise NasscoutError(
                f"budget_seconds {value!r} is invalid; accepted: more than 0 and at most {cap:,.0f} "
                f"(the simulated time to train every cell of {self.dataset} at every fidelity)"
            )
        return v

    def max_seconds(self) -> float:
        return float(
            sum(
                np.nansum(self.benchmark.cost(self.cells, dataset=self.dataset, fidelity=f))
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
            metrics=self.metrics,
            fidelity_kind=getattr(self.benchmark, "fidelity_kind", "schedules"),
            benchmark=self.spec,
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
        name = strategy
        if isinstance(strategy, str):
            from strategies.registry import get_strategy

            strategy = get_strategy(strategy)
        if _is_builtin(strategy):
            return strategy(self.space, seed=self.seed, context=self.context, **options)
        try:
            return strategy(self.space, seed=self.seed, context=self.context, **options)
        except NasscoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's constructor failing in its own way
            raise plugin_failure(exc, str(name), "__init__") from exc

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
        n = self.benchmark.space.n_cells
        if not 0 <= index < n:
            raise NasscoutError(f"strategy {name!r} proposed cell {index}, outside 0..{n - 1}")
        fid = self.top_fidelity if trial.fidelity is None else trial.fidelity
        if fid not in self.fidelities:
            raise NasscoutError(
                f"strategy {name!r} asked for fidelity {trial.fidelity!r}; accepted: "
                f"{', '.join(map(str, self.fidelities))} epochs (or None for the most)"
            )
        return int(index), int(fid)

    @staticmethod
    def _overhead(trial: Trial, name: str) -> float:
        """The trial's ``info["overhead_s"]``: seconds of non-training work to charge (0 when absent)."""
        value = trial.info.get("overhead_s", 0.0) if isinstance(trial.info, dict) else 0.0
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool
        )
        if not ok or not 0 <= float(value) < math.inf:
            raise NasscoutError(
                f"strategy {name!r} attached overhead_s={value!r} to trial {trial.trial_id}; accepted: "
                "a finite number of seconds >= 0"
            )
        return float(value)

    def _curve_reader(self, strat: Strategy) -> Callable[[Row], tuple[float, ...] | None]:
        """For a strategy that reads curves, on epochs of one schedule: the curve each row observed (the same
        seed as its value; a stopped training's up to where it stopped); otherwise always None."""
        if not (strat.wants_curves and self.context.fidelity_kind == "epochs"):
            return lambda row: None
        from strategies.pruning import Pruner

        reader = Pruner(
            self.early_stop, self.benchmark, self.dataset, seed=self.seed, observe=self.observe
        )

        def curve_of(row: Row) -> tuple[float, ...] | None:
            got = reader.observed_curve(row.index, row.fidelity, row.trial)
            if got is None:
                return None
            return tuple(float(v) for v in got[: row.stopped_at or None])

        return curve_of

    def run(
        self,
        strategy: str | type | Strategy,
        *,
        options: dict[str, Any] | None = None,
        journal: Any = None,
        replay: dict[int, Row] | None = None,
        on_row: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Trajectory:
        """Search until the budget is spent and return every evaluation.

        ``journal`` (a :class:`~strategies.journal.JournalWriter`) receives each new evaluation; ``replay``
        (trial -> journaled :class:`Row`, from an interrupted run) is fed back instead of evaluating again,
        after checking that the strategy proposes exactly the journaled cells (and, on the simulated clock,
        that they finish at the journaled times).
        """
        strat = self.make_strategy(strategy, **(options or {}))
        name = name or (strategy if isinstance(strategy, str) else type(strat).name)
        replay = replay or {}
        backend = self.backend
        exact = backend.clock == "simulated"
        if replay and not exact:
            backend = ReplayBackend(backend, replay)
        pruner = None
        if self.early_stop.active:
            pruner = Pruner(
                self.early_stop, self.benchmark, self.dataset, seed=self.seed, observe=self.observe
            )
        if isinstance(backend, SimulatedBackend):
            backend.pruner = pruner
        backend.start(self.benchmark, self.spec, self.dataset, self.seed, self.observe)
        limit_q = self.budget_queries or self.max_queries
        limit_t = self.budget_seconds if self.budget_seconds is not None else math.inf
        seed = self.seed
        wall0 = time.perf_counter()
        wall_offset = max((r.wall_time_s for r in replay.values()), default=0.0)
        if not wall_offset >= 0:
            wall_offset = 0.0
        rows: list[Row] = []
        submit, completed = backend.submit, backend.next_completed
        ask, tell = strat.ask, strat.tell
        if not _is_builtin(type(strat)):  # the user's code: its failures become one line
            ask, tell = _guarded(ask, name, "ask()", seed), _guarded(tell, name, "tell()", seed)
        curve_of = self._curve_reader(strat)
        asked, free, replayed = 0, self.n_workers, 0
        while True:
            while free and asked < limit_q and backend.now() < limit_t:
                trial = ask()
                if trial is None:
                    if not backend.pending:
                        raise NasscoutError(
                            f"strategy {name!r} proposed nothing (ask() returned None) while no trial was "
                            "running; None is allowed only while trials are pending"
                        )
                    break
                index, fid = self._check_trial(trial, name)
                old = replay.get(asked)
                if old is not None and (old.index != index or old.fidelity != fid):
                    raise NasscoutError(
                        f"cannot resume: strategy {name!r} (seed {seed}) proposed cell {index} at {fid} "
                        f"epochs as trial {asked}, but the journal recorded cell {old.index} at "
                        f"{old.fidelity} epochs; the strategy's code or options changed since the run "
                        "started. Start a new run with another --out"
                    )
                job = Job(asked, trial, index, fid, self._overhead(trial, name))
                submit(job, old.outcome if exact and old else None)
                asked += 1
                free -= 1
            if not backend.pending:
                break
            job, outcome, finish = completed()
            if finish > limit_t:
                break
            free += 1
            old = replay.get(job.k)
            if old is None:
                wall = wall_offset + time.perf_counter() - wall0
                row = Row.make(name, seed, job.k, job.index, job.fidelity, outcome, finish, wall)
                if journal is not None:
                    journal.add_row(row)
            else:
                if exact and old.sim_time_s != finish:
                    raise NasscoutError(
                        f"cannot resume: trial {job.k} of {name!r} (seed {seed}) finishes at simulated "
                        f"{finish!r} s but the journal says {old.sim_time_s!r} s; the journal does not "
                        "belong to this configuration"
                    )
                row = old
                replayed += 1
            rows.append(row)
            if pruner is not None:
                pruner.completed(row)
            tell(
                job.trial,
                Observation(
                    row.told_acc, row.fidelity, row.cost_s, row.params_m, row.latency_s,
                    row.flops_m, row.train_time_s, curve_of(row),
                ),
            )  # fmt: skip
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
            self.benchmark.name,
            self.dataset,
            rows,
            self.top_fidelity,
            self.best_valid_acc,
        )
