"""Where training runs: this process, a local process pool, or a Dask cluster (local or remote).

Every backend is a ``concurrent.futures.Executor`` running :func:`run_task`, which needs only the store path and
the (cell, seed): the worker opens the store, takes the run's lock, returns the result if another worker already
finished it, and otherwise trains from the run's checkpoint (or from scratch) and writes the result. A task is
therefore idempotent, so retrying it is always safe:

* process pool: a worker that dies (``kill -9``, out of memory) breaks the pool; the pool is rebuilt and the
  unfinished tasks are submitted again, resuming from their checkpoints (``retries`` rounds);
* Dask: the scheduler reschedules tasks of a dead worker by itself (``distributed.scheduler.allowed-failures``),
  and ``retries`` re-runs tasks that raised. Several machines need the store on a shared filesystem.

Workers train with ``torch.set_num_threads(threads)`` (1 by default): one run per core, and curves that do not
depend on how many cores a machine has.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from surrogate.errors import NasscoutError

DASK_CONNECT_TIMEOUT_S = 5


def run_task(
    store_path: str, cell: int, seed: int, device: str = "auto", threads: int = 1
) -> dict[str, Any]:
    """Train one (cell, seed) of a store to completion, resuming its checkpoint; idempotent."""
    return run_segment(store_path, cell, seed, None, device, threads)


def run_segment(
    store_path: str,
    cell: int,
    seed: int,
    stop_after: int | None,
    device: str = "auto",
    threads: int = 1,
) -> dict[str, Any]:
    """Train one (cell, seed) up to epoch ``stop_after`` (None: the end), resuming its checkpoint.

    A finished run is written to the store as by :func:`run_task`; a paused one (``status`` ``"paused"``)
    is returned with the curves so far and its checkpoint stays, so the next segment continues it exactly.
    Idempotent like :func:`run_task`: asking again for epochs already trained trains nothing.
    """
    from surrogate.training.runstore import RunStore
    from surrogate.training.trainer import RunSpec, train_run

    store = RunStore.open(store_path)
    with store.run_lock(cell, seed):
        done = store.result(cell, seed)
        if done is not None:
            return done
        spec = RunSpec(
            store.dataset,
            store.preset,
            cell,
            seed,
            checkpoint=store.checkpoint_path(cell, seed),
            device=device,
            threads=threads,
        )
        result = train_run(spec, stop_after=stop_after)
        if result["status"] != "paused":
            store.write_result(result)
        return result


class InlineExecutor(Executor):
    """Runs each task at submit time in this process: no start-up cost, for one worker and for tests."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _check_address(address: str) -> str:
    if not re.fullmatch(r"(tcp|tls|ucx|inproc)://[^\s/]+(:\d+)?/?", address):
        raise NasscoutError(
            f"Dask scheduler address {address!r} is invalid; accepted: tcp://HOST:PORT"
        )
    return address


@contextmanager
def dask_client(
    *, local: int | None = None, scheduler: str | None = None, threads: int = 1
) -> Iterator[Any]:
    """A Dask ``Client``: a LocalCluster of ``local`` worker processes on loopback, or a remote scheduler."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise NasscoutError(
            'Dask is not installed; `pip install "dask[distributed]"` to use --dask-local/--dask-scheduler'
        ) from None
    import logging

    if scheduler is not None:
        _check_address(scheduler)
        try:
            client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
        except Exception as exc:  # refused, timed out, or something that is not a Dask scheduler
            raise NasscoutError(
                f"cannot reach the Dask scheduler at {scheduler} within {DASK_CONNECT_TIMEOUT_S} s "
                f"({type(exc).__name__}); start one with `dask scheduler` and workers with "
                "`dask worker ADDRESS --nthreads 1`, or use --dask-local N"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    if local is None or local < 1:
        raise NasscoutError(f"--dask-local {local!r} is invalid; accepted: a positive integer")
    cluster = LocalCluster(
        n_workers=local,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env={"OMP_NUM_THREADS": str(threads)},
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@contextmanager
def make_executor(
    *,
    workers: int = 1,
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
    threads: int = 1,
    retries: int = 2,
) -> Iterator[tuple[Executor, str]]:
    """(executor, description): Dask when asked, else a process pool for ``workers`` > 1, else inline."""
    if dask_local is not None and dask_scheduler is not None:
        raise NasscoutError("give either --dask-local or --dask-scheduler, not both")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise NasscoutError(f"workers={workers!r} is invalid; accepted: a positive integer")
    if dask_local is not None or dask_scheduler is not None:
        with dask_client(local=dask_local, scheduler=dask_scheduler, threads=threads) as client:
            where = dask_scheduler or f"local Dask cluster of {dask_local} workers"
            yield client.get_executor(pure=False, retries=retries), where
        return
    if workers == 1:
        yield InlineExecutor(), "this process"
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: a clean server process imports torch once; workers (and a rebuilt pool) fork from it in
    # milliseconds instead of importing torch again, and no worker inherits this process's threads
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "surrogate.training.trainer"])
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)
    )
    try:
        yield pool, f"{workers} local processes"
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def train_many(
    store_path: str | os.PathLike,
    tasks: Iterable[tuple[int, int]],
    *,
    workers: int = 1,
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
    device: str = "auto",
    threads: int = 1,
    retries: int = 2,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
    window: int | None = None,
) -> list[dict[str, Any]]:
    """Train every (cell, seed) of ``tasks`` into the store; results in completion order.

    At most ``window`` tasks (default: twice the workers) are in flight, so an interrupted build has trained
    the head of the list, not a scattering of it. A broken process pool is rebuilt and its unfinished tasks
    resubmitted (they resume from their checkpoints), at most ``retries`` times. ``on_ready(where)`` is
    called once the executor is up (a Dask scheduler reached).
    """
    tasks = [(int(c), int(s)) for c, s in tasks]
    store = str(Path(store_path))
    results: list[dict[str, Any]] = []
    rounds = 0
    todo = list(tasks)
    n_slots = max(workers, dask_local or 0, 1)
    while todo:
        with make_executor(
            workers=workers,
            dask_local=dask_local,
            dask_scheduler=dask_scheduler,
            threads=threads,
            retries=retries,
        ) as (ex, where):
            if on_ready is not None and rounds == 0:
                on_ready(where)
            if dask_scheduler is not None:  # as many tasks in flight as the cluster has workers
                client = getattr(ex, "_client", None)
                if client is not None:
                    n_slots = max(n_slots, len(client.scheduler_info().get("workers", {})))
            limit = window or 2 * n_slots
            broken = _drain(ex, store, todo, device, threads, limit, results, on_result)
        if not broken:
            break
        rounds += 1
        if rounds > retries:
            raise NasscoutError(
                f"training workers died {rounds} times; giving up (unfinished runs resume from their "
                "checkpoints when you rerun the same command)"
            )
        print(
            f"nasscout: a training worker died; restarting the pool and resuming {len(todo)} runs",
            file=sys.stderr,
        )
    return results


def _drain(
    ex: Executor,
    store: str,
    todo: list[tuple[int, int]],
    device: str,
    threads: int,
    limit: int,
    results: list[dict[str, Any]],
    on_result: Callable[[dict[str, Any]], None] | None,
) -> bool:
    """Run ``todo`` (removing finished tasks from it); True when the pool broke and must be rebuilt."""
    queue = list(todo)
    running: dict[Future, tuple[int, int]] = {}
    while queue or running:
        while queue and len(running) < limit:
            task = queue.pop(0)
            running[ex.submit(run_task, store, task[0], task[1], device, threads)] = task
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in done:
            task = running.pop(fut)
            try:
                result = fut.result()
            except BrokenProcessPool:
                return True
            todo.remove(task)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return False
