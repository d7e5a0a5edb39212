"""Where trials run: the second of Syne Tune's three axes (what is evaluated | where it runs | what next).

The runner is a scheduler loop over ``backend.submit(job)`` and ``backend.next_completed()``; a backend
knows nothing of strategies, and a benchmark nothing of backends.

- :class:`SimulatedBackend` (``simulated``): the evaluation happens at submit time in this process and
  its result is released when the simulated clock reaches ``now + cost``; an event queue (heapq) orders
  finishes. Bit-identical results for a seed, whatever the machine; the default.
- :class:`PoolBackend` (``local``): a local process pool; each worker opens the benchmark by its spec
  (``nb201``, ``train:fashion-mnist``, a file) and evaluates there, so ``--workers 2`` on a training
  benchmark trains two cells at a time. The clock is wall time.
- :class:`DaskBackend` (``dask``): the same on a Dask cluster (``dask_local=N`` workers on loopback, or a
  scheduler address); several machines need the benchmark (e.g. a run store) on a shared filesystem.

Real backends finish trials in an order nobody can replay, so resume replays the journal in its recorded
completion order (:class:`ReplayBackend`) and only then hands over to the real one: every finished
evaluation is kept, and trainings that were cut short resume from their checkpoints in the run store.
"""

from __future__ import annotations

import heapq
import math
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

from strategies.evaluators import evaluate_in_worker, make_evaluator
from strategies.row import Outcome
from surrogate.errors import NasscoutError

BACKENDS = ("simulated", "local", "dask")


class Job(NamedTuple):
    """One submitted trial: ``k`` is the run's trial number (the order of asking); ``overhead_s`` is work
    the strategy did for it besides training (e.g. scoring candidates with proxies), added to its cost."""

    k: int
    trial: Any
    index: int
    fidelity: int
    overhead_s: float = 0.0


def charged(job: Job, outcome: Outcome) -> Outcome:
    """``outcome`` with the job's overhead added to its cost (a fresh evaluation, never a replayed one,
    whose journaled cost already holds it)."""
    if not job.overhead_s:
        return outcome
    return outcome._replace(cost_s=outcome.cost_s + job.overhead_s)


class Backend(ABC):
    """Base class: ``start`` once per search, then ``submit``/``next_completed`` until ``pending`` is 0."""

    name = "backend"
    clock = "simulated"  # or "wall"

    @abstractmethod
    def start(self, benchmark: Any, spec: str, dataset: str, seed: int, observe: str) -> None: ...

    @abstractmethod
    def submit(self, job: Job, outcome: Outcome | None = None) -> None:
        """Start ``job``; ``outcome`` given (a replayed evaluation) means: do not evaluate again."""

    @abstractmethod
    def next_completed(self) -> tuple[Job, Outcome, float]:
        """Wait for the next finished job: (job, outcome, finish time on this backend's clock)."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Jobs submitted and not yet returned by ``next_completed``."""

    @abstractmethod
    def now(self) -> float:
        """The backend's clock (simulated or wall seconds since the search started)."""

    def set_clock(self, seconds: float) -> None:
        """Continue the clock of an interrupted run from ``seconds`` (wall-clock backends)."""
        return None  # the simulated clock is replayed exactly instead

    def connect(self) -> None:
        """Bring workers up before the run directory is touched (nothing to do for the simulated clock)."""
        return None

    def close(self) -> None:
        """Release workers (a backend may be reused for several searches before that)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


class SimulatedBackend(Backend):
    """Evaluate at submit, release at ``now + cost`` on a simulated clock."""

    name = "simulated"
    clock = "simulated"
    pruner: Any = None  # a strategies.pruning.Pruner set by the runner: may stop a training early

    def start(self, benchmark: Any, spec: str, dataset: str, seed: int, observe: str) -> None:
        self._evaluate = make_evaluator(benchmark, dataset, seed, observe)
        self._dataset = dataset
        self._heap: list[tuple] = []
        self._now = 0.0

    def submit(self, job: Job, outcome: Outcome | None = None) -> None:
        if outcome is None:
            outcome = self._evaluate(job.index, job.fidelity, job.k)
            if self.pruner is not None:
                outcome = self.pruner.apply(job.index, job.fidelity, job.k, outcome)
            outcome = charged(job, outcome)
        cost = outcome.cost_s
        if not cost >= 0:
            raise NasscoutError(
                f"benchmark has no training time for cell {job.index} at {job.fidelity} epochs on "
                f"{self._dataset}, so the simulated clock cannot advance"
            )
        heapq.heappush(self._heap, (self._now + cost, job.k, job, outcome))

    def next_completed(self) -> tuple[Job, Outcome, float]:
        finish, _, job, outcome = heapq.heappop(self._heap)
        self._now = finish
        return job, outcome, finish

    def peek_finish(self) -> float:
        return self._heap[0][0]

    @property
    def pending(self) -> int:
        return len(self._heap)

    def now(self) -> float:
        return self._now


class _ExecutorBackend(Backend, ABC):
    """Shared by the pool and Dask backends: futures, a wall clock, first-finished-first."""

    clock = "wall"

    def __init__(self, n_workers: int) -> None:
        self.n_workers = n_workers
        self._executor: Any = None
        self._running: dict[Future, Job] = {}
        self._ready: list[tuple[Job, Outcome]] = []
        self._t0 = time.monotonic()
        self._offset = 0.0

    @abstractmethod
    def _make_executor(self) -> Any:
        """A ``concurrent.futures`` executor whose workers can import nasscout."""

    def connect(self) -> None:
        """Bring the workers up (or reach the scheduler) now: a bad address fails before anything runs."""
        if self._executor is None:
            self._executor = self._make_executor()

    def start(self, benchmark: Any, spec: str, dataset: str, seed: int, observe: str) -> None:
        self.connect()
        self._args = (spec, dataset, seed, observe)
        self._running.clear()
        self._ready.clear()
        self._t0 = time.monotonic()
        self._offset = 0.0

    def set_clock(self, seconds: float) -> None:
        """Continue the clock of an interrupted run (resume) from ``seconds``."""
        self._offset = seconds - (time.monotonic() - self._t0)

    def submit(self, job: Job, outcome: Outcome | None = None) -> None:
        if outcome is not None:
            self._ready.append((job, outcome))
            return
        fut = self._executor.submit(evaluate_in_worker, *self._args, job.index, job.fidelity, job.k)
        self._running[fut] = job

    def next_completed(self) -> tuple[Job, Outcome, float]:
        if self._ready:
            job, outcome = self._ready.pop(0)
            return job, outcome, self.now()
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        fut = min(
            done, key=lambda f: self._running[f].k
        )  # deterministic among simultaneous finishes
        job = self._running.pop(fut)
        try:
            values = fut.result()
        except BrokenProcessPool:
            self.close()
            raise NasscoutError(
                f"a {self.name} worker died while evaluating cell {job.index} (trial {job.k}); every "
                "finished evaluation is in the journal and finished trainings are in their run store: "
                "rerun the same command with --resume"
            ) from None
        return job, charged(job, Outcome(*values)), self.now()

    @property
    def pending(self) -> int:
        return len(self._running) + len(self._ready)

    def now(self) -> float:
        return time.monotonic() - self._t0 + self._offset

    def close(self) -> None:
        ex, self._executor = self._executor, None
        if ex is not None:
            for fut in self._running:
                fut.cancel()
            ex.shutdown(wait=False)


def _init_pool_worker() -> None:
    """One thread per worker (the pool already fills the cores); die with the parent."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (OSError, AttributeError):
        pass
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


class PoolBackend(_ExecutorBackend):
    """A local process pool of ``n_workers`` processes (forkserver: none inherits this process's threads)."""

    name = "local"

    def _make_executor(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["strategies.evaluators", "surrogate.registry"])
        return ProcessPoolExecutor(
            max_workers=self.n_workers, mp_context=ctx, initializer=_init_pool_worker
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": self.n_workers}


class DaskBackend(_ExecutorBackend):
    """Trials on a Dask cluster: ``local`` worker processes on loopback, or a ``scheduler`` address."""

    name = "dask"

    def __init__(
        self, n_workers: int, *, local: int | None = None, scheduler: str | None = None
    ) -> None:
        super().__init__(n_workers)
        if (local is None) == (scheduler is None):
            raise NasscoutError(
                "the dask backend needs either --dask-local N or --dask-scheduler ADDR"
            )
        self.local, self.scheduler = local, scheduler
        self._cm: Any = None

    def _make_executor(self) -> Any:
        from surrogate.training.executors import dask_client

        self._cm = dask_client(local=self.local, scheduler=self.scheduler)
        client = self._cm.__enter__()
        return client.get_executor(pure=False, retries=2)

    def close(self) -> None:
        super().close()
        cm, self._cm = self._cm, None
        if cm is not None:
            cm.__exit__(None, None, None)

    def describe(self) -> dict[str, Any]:
        where = self.scheduler or f"local:{self.local}"
        return {"backend": self.name, "workers": self.n_workers, "dask": where}


class ReplayBackend(Backend):
    """Feeds a journal's evaluations back in their recorded completion order, then hands over to ``real``.

    Used to resume a search on a wall-clock backend: the strategy sees the same sequence of tells as in the
    interrupted run, so it asks the same trials; trials that were running when the run died are submitted
    to ``real`` again (a training resumes from its checkpoint).
    """

    def __init__(self, real: Backend, replay: dict[int, Any]) -> None:
        self.real = real
        self.name = real.name
        self.clock = real.clock
        self._order = sorted(replay, key=lambda k: (replay[k].sim_time_s, k))
        self._rows = replay
        self._submitted: dict[int, Job] = {}

    def start(self, benchmark: Any, spec: str, dataset: str, seed: int, observe: str) -> None:
        self.real.start(benchmark, spec, dataset, seed, observe)
        last = max((r.sim_time_s for r in self._rows.values()), default=0.0)
        if math.isfinite(last):
            self.real.set_clock(last)

    def submit(self, job: Job, outcome: Outcome | None = None) -> None:
        if job.k in self._rows:
            self._submitted[job.k] = job
        else:
            self.real.submit(job, outcome)

    def next_completed(self) -> tuple[Job, Outcome, float]:
        if self._order:
            k = self._order[0]
            if k not in self._submitted:
                raise NasscoutError(
                    f"cannot resume: the journal says trial {k} finished next, but the strategy has not "
                    "proposed it; the journal belongs to another configuration"
                )
            self._order.pop(0)
            row = self._rows[k]
            return self._submitted.pop(k), row.outcome, row.sim_time_s
        return self.real.next_completed()

    @property
    def pending(self) -> int:
        return len(self._submitted) + self.real.pending

    def now(self) -> float:
        return self.real.now()

    def close(self) -> None:
        self.real.close()

    def describe(self) -> dict[str, Any]:
        return self.real.describe()


def make_backend(
    name: str = "simulated",
    *,
    n_workers: int = 1,
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
) -> Backend:
    """A backend by name (``simulated``, ``local``, ``dask``), validating its options."""
    if name not in BACKENDS:
        raise NasscoutError(f"unknown backend {name!r}; accepted: {', '.join(BACKENDS)}")
    if name != "dask" and (dask_local is not None or dask_scheduler is not None):
        raise NasscoutError(
            f"--dask-local/--dask-scheduler need --backend dask (not {name}); the Dask cluster is where "
            "trials run"
        )
    if name == "simulated":
        return SimulatedBackend()
    if name == "local":
        return PoolBackend(n_workers)
    if dask_scheduler is not None:
        from surrogate.training.executors import _check_address

        _check_address(dask_scheduler)
    if dask_local is not None and (isinstance(dask_local, bool) or dask_local < 1):
        raise NasscoutError(f"--dask-local {dask_local!r} is invalid; accepted: a positive integer")
    return DaskBackend(n_workers, local=dask_local, scheduler=dask_scheduler)
