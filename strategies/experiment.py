"""Many searches at once: every listed strategy x every seed, into one run directory, resumable.

Each (strategy, seed) search is one task for :class:`~strategies.runner.Runner`; tasks run in up to ``jobs``
forked processes (the benchmark is loaded once, before forking) which append to the shared journal. Resume
replays the journal: finished searches are skipped, unfinished ones are re-run with their journaled
evaluations fed back (and checked) instead of re-evaluated, then continue. Because every random draw is a
function of (seed, trial) only, the final ``results.csv`` equals that of an uninterrupted run, whatever the
number of processes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strategies.journal import JOURNAL_NAME, JournalWriter, drop_partial_tail
from strategies.journal_check import read_checked
from strategies.plugin_meta import check_plugins
from strategies.pruning import EarlyStop, curve_table, describe_early_stop, early_stop_from_json
from strategies.registry import get_strategy, parse_strategy_list
from strategies.results import (
    META_NAME,
    read_meta,
    write_meta,
    write_results,
)
from strategies.run_dir import dir_error, lock_run_dir, prepare_new
from strategies.run_meta import build_meta
from strategies.runner import Runner, table_lookup
from surrogate.errors import NasscoutError

MAX_SEEDS = 100_000
MAX_SEED = 2**32 - 1
# Options that change results: a resume must use the run's values.
RESULT_OPTIONS = (
    "benchmark",
    "dataset",
    "strategies",
    "first_seed",
    "n_seeds",
    "budget_queries",
    "budget_seconds",
    "n_workers",
    "observe",
    "backend",
    "options",
    "early_stop",
)
OPTION_FLAGS = {
    "benchmark": "--benchmark",
    "dataset": "--dataset",
    "strategies": "--strategy",
    "first_seed": "--first-seed",
    "n_seeds": "--seeds",
    "budget_queries": "--budget-queries",
    "budget_seconds": "--budget-seconds",
    "n_workers": "--workers",
    "observe": "--observe",
    "backend": "--backend",
    "options": "--option",
    "early_stop": "--early-stop",
}


# what a meta.json written before an option existed means by its absence
CONFIG_DEFAULTS = {
    "observe": "seed",
    "backend": "simulated",
    "dask_local": None,
    "dask_scheduler": None,
    "options": {},
    "early_stop": {"rule": "none"},
}


@dataclass(frozen=True)
class RunConfig:
    """What a run directory holds: the options that determine its results."""

    benchmark: str
    dataset: str
    strategies: tuple[str, ...]
    first_seed: int
    n_seeds: int
    budget_queries: int | None
    budget_seconds: float | None
    n_workers: int = 1
    observe: str = "seed"
    backend: str = "simulated"
    dask_local: int | None = None
    dask_scheduler: str | None = None
    # per strategy, the keyword options it runs with (typed; only those given, defaults are the class's)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    early_stop: dict[str, Any] = field(default_factory=lambda: {"rule": "none"})

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.n_seeds))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategies"] = list(self.strategies)
        return d

    def make_backend(self) -> Any:
        from strategies.backends import make_backend

        return make_backend(
            self.backend,
            n_workers=self.n_workers,
            dask_local=self.dask_local,
            dask_scheduler=self.dask_scheduler,
        )


def _int_in(value: Any, flag: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise NasscoutError(f"{flag} {value!r} is invalid; accepted: an integer {low}..{high:,}")
    return int(value)


def make_config(
    *,
    benchmark: str = "nb201",
    dataset: str = "cifar10",
    strategies: str | list[str] | tuple[str, ...],
    first_seed: int = 0,
    n_seeds: int = 1,
    budget_queries: int | None = None,
    budget_seconds: float | None = None,
    n_workers: int = 1,
    observe: str = "seed",
    backend: str = "simulated",
    dask_local: int | None = None,
    dask_scheduler: str | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    option_pairs: tuple[str, ...] | list[str] = (),
    early_stop: EarlyStop | None = None,
) -> tuple[RunConfig, Any]:
    """Validate options (loading the benchmark) -> (config, benchmark). Nothing touches the disk.

    ``options`` are strategy options as Python values ({strategy: {key: value}}); ``option_pairs`` the
    CLI's ``STRATEGY.KEY=VALUE`` texts, typed by each strategy's signature."""
    from strategies.options import check_options, parse_options
    from surrogate.registry import load_benchmark

    names = parse_strategy_list(
        ",".join(strategies) if not isinstance(strategies, str) else strategies
    )
    for name in names:
        get_strategy(name)  # fail now on an import problem or a broken plugin, not in a worker
    strategy_options = check_options(options or {}, names)
    for name, values in parse_options(tuple(option_pairs), names).items():
        strategy_options.setdefault(name, {}).update(values)
    n_seeds = _int_in(n_seeds, "--seeds", 1, MAX_SEEDS)
    first_seed = _int_in(first_seed, "--first-seed", 0, MAX_SEED - n_seeds + 1)
    bench = load_benchmark(benchmark)
    ds = bench.dataset(dataset)
    if budget_queries is None and budget_seconds is None:
        raise NasscoutError(
            "no budget given; accepted: --budget-queries N and/or --budget-seconds S"
        )
    if budget_queries is not None:
        budget_queries = _int_in(
            budget_queries,
            "--budget-queries",
            1,
            bench.space.n_cells * len(bench.fidelities_for(ds)),
        )
    check_observe_flag(observe)
    from strategies.backends import make_backend

    backend_obj = make_backend(
        backend, n_workers=1, dask_local=dask_local, dask_scheduler=dask_scheduler
    )  # validates the backend's options; makes no worker yet
    try:
        runner = Runner(
            bench,
            dataset=ds,
            seed=first_seed,
            n_workers=n_workers,
            budget_queries=budget_queries,
            budget_seconds=budget_seconds,
            observe=observe,
            backend=backend_obj,
            early_stop=early_stop,
        )
    except NasscoutError as exc:  # reword the Python-API names as the CLI flags
        msg = (
            str(exc).replace("budget_seconds", "--budget-seconds").replace("n_workers", "--workers")
        )
        raise NasscoutError(msg) from None
    # a strategy that cannot run here says so now, before anything touches the disk; `all` means "all
    # that apply" and names the ones it leaves out
    reasons = {n: _cannot_run(runner, n, strategy_options.get(n, {})) for n in names}
    skipped = [n for n in names if reasons[n] is not None]
    if skipped and str(strategies).strip() == "all":
        for n in skipped:
            print(f"nasscout: --strategy all leaves out {n}: {reasons[n]}", file=sys.stderr)
        names = [n for n in names if reasons[n] is None]
    elif skipped:
        raise NasscoutError(f"{skipped[0]}: {reasons[skipped[0]]}")
    config = RunConfig(
        benchmark=str(benchmark),
        dataset=ds,
        strategies=tuple(names),
        first_seed=first_seed,
        n_seeds=n_seeds,
        budget_queries=budget_queries,
        budget_seconds=runner.budget_seconds,
        n_workers=runner.n_workers,
        observe=observe,
        backend=backend,
        dask_local=dask_local,
        dask_scheduler=dask_scheduler,
        options={n: strategy_options[n] for n in names if strategy_options.get(n)},
        early_stop=runner.early_stop.to_json(),
    )
    return config, bench


def _cannot_run(runner: Runner, name: str, options: dict[str, Any]) -> str | None:
    """Why strategy ``name`` cannot run on this benchmark and dataset with ``options`` (its own one line:
    an option value it refuses too), or None."""
    try:
        runner.make_strategy(name, **options)
    except NasscoutError as exc:
        return str(exc).removeprefix(f"{name}: ")
    except Exception as exc:  # noqa: BLE001 - a plugin's constructor failing in its own way
        from strategies.runner import plugin_failure

        raise plugin_failure(exc, name, "__init__") from exc
    return None


def check_observe_flag(observe: Any) -> str:
    from strategies.evaluators import check_observe

    try:
        return check_observe(observe)
    except NasscoutError as exc:
        raise NasscoutError(str(exc).replace("observe ", "--observe ", 1)) from None


def compare_options(meta: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuse a resume whose explicitly given options differ from the run's (naming the first that does)."""
    cfg = meta["config"]
    for key, value in given.items():
        if key not in RESULT_OPTIONS:
            continue
        have = cfg.get(key, CONFIG_DEFAULTS.get(key))
        if key == "strategies":
            value, have = list(value), list(have)
        if key == "options":
            value, have = json.loads(json.dumps(value)), have or {}
        if value != have:
            shown = ",".join(value) if key == "strategies" else value
            had = ",".join(have) if key == "strategies" else have
            if key == "options":
                from strategies.options import describe

                shown, had = describe(value) or "(none)", describe(have) or "(none)"
            if key == "early_stop":
                shown, had = describe_early_stop(value), describe_early_stop(have)
            raise NasscoutError(
                f"cannot resume: {OPTION_FLAGS[key]} {shown} differs from the run's {had} "
                f"(in {META_NAME}); drop the option or use the same value"
            )


# ---- executing tasks --------------------------------------------------------------------------------------------
class _Shared:
    """State the task function needs; set in the parent before forking so workers inherit it."""

    config: RunConfig
    bench: Any
    journal_path: Path
    replay: dict[tuple[str, int], dict[int, Any]]
    backend: Any = None  # a real backend shared by the searches (None: each search simulates)
    counter: Any = None  # multiprocessing.Value with evaluations done (process mode)
    tick: Any = None  # in-process progress callback


_S = _Shared()
_WRITER: tuple[int, JournalWriter] | None = None


def _writer() -> JournalWriter:
    global _WRITER
    if _WRITER is None or _WRITER[0] != os.getpid():
        _WRITER = (os.getpid(), JournalWriter(_S.journal_path))
    return _WRITER[1]


def _close_writer() -> None:
    global _WRITER
    if _WRITER is not None and _WRITER[0] == os.getpid():
        _WRITER[1].close()
    _WRITER = None


def _run_task(task: tuple[str, int]) -> tuple[str, int, int]:
    strategy, seed = task
    cfg = _S.config
    runner = Runner(
        _S.bench,
        dataset=cfg.dataset,
        seed=seed,
        n_workers=cfg.n_workers,
        budget_queries=cfg.budget_queries,
        budget_seconds=cfg.budget_seconds,
        observe=cfg.observe,
        backend=_S.backend or cfg.make_backend(),
        spec=cfg.benchmark,
        early_stop=early_stop_from_json(cfg.early_stop),
    )
    journal = _writer()
    if _S.counter is not None:
        pending = [0]
        counter = _S.counter

        def tick() -> None:
            pending[0] += 1
            if pending[0] >= 16:
                with counter.get_lock():
                    counter.value += pending[0]
                pending[0] = 0
    else:
        tick = _S.tick
        pending = None
    try:
        traj = runner.run(
            strategy,
            options=cfg.options.get(strategy),
            journal=journal,
            replay=_S.replay.get(task),
            on_row=tick,
            name=strategy,
        )
    except BaseException:
        journal.flush()  # what was evaluated before the failure stays in the journal for --resume
        raise
    journal.add({"strategy": strategy, "seed": seed, "done": True, "rows": len(traj)})
    journal.flush()
    if pending is not None and pending[0]:
        with _S.counter.get_lock():
            _S.counter.value += pending[0]
    return strategy, seed, len(traj)


def _init_worker() -> None:
    """Die with the parent (a kill -9 of `nasscout run` must not leave workers writing to the journal), leave
    Ctrl-C to the parent, and use one thread each."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # one thread per worker process: `jobs` processes already fill the cores
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _progress(total: int | None, initial: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="eval",
        desc="nasscout run",
        disable=True if quiet else None,  # None: hidden when stderr is not a terminal
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.2,
    )


def _execute(tasks: list[tuple[str, int]], jobs: int, bar: Any) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        _S.counter = None
        _S.tick = lambda: bar.update(1)
        try:
            for task in tasks:
                _run_task(task)
        finally:
            _close_writer()
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    _S.counter = ctx.Value("q", 0)
    shown = 0
    with ctx.Pool(processes=min(jobs, len(tasks)), initializer=_init_worker) as pool:
        pending = [pool.apply_async(_run_task, (t,)) for t in tasks]
        try:
            while pending:
                time.sleep(0.05)
                still = []
                for res in pending:
                    if res.ready():
                        res.get()  # re-raises a worker's error here
                    else:
                        still.append(res)
                pending = still
                now = _S.counter.value
                bar.update(now - shown)
                shown = now
        except BaseException:
            pool.terminate()
            raise
        pool.close()
        pool.join()
    # workers flush (not fsync) per task; make everything durable once
    fd = os.open(_S.journal_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class RunSummary:
    out: Path
    n_runs: int
    n_rows: int
    n_new_runs: int
    seconds: float


def run_experiment(
    out: str | os.PathLike,
    config: RunConfig,
    bench: Any,
    *,
    jobs: int = 2,
    quiet: bool = False,
    command_line: list[str] | None = None,
    resume: bool = False,
    rebuild_meta: bool = False,
) -> RunSummary:
    """Run (or, with ``resume``, continue) every search of ``config`` into ``out``; ``rebuild_meta``
    (with ``resume``) first rebuilds a lost meta.json from ``config`` (see strategies.rebuild_meta)."""
    jobs = _int_in(jobs, "--jobs", 1, 256)
    rebuild = bool(resume and rebuild_meta)
    if config.backend == "simulated":
        return _run_experiment(Path(out), config, bench, jobs, quiet, command_line, resume, rebuild)
    # real trials: searches run one after another, each with the backend's workers; the workers (or the
    # Dask scheduler) are reached before the run directory is touched
    _S.backend = config.make_backend()
    try:
        _S.backend.connect()
        return _run_experiment(Path(out), config, bench, 1, quiet, command_line, resume, rebuild)
    finally:
        _S.backend.close()
        _S.backend = None


def _run_experiment(
    out: Path,
    config: RunConfig,
    bench: Any,
    jobs: int,
    quiet: bool,
    command_line: list[str] | None,
    resume: bool,
    rebuild: bool = False,
) -> RunSummary:
    t0 = time.perf_counter()
    command_line = command_line if command_line is not None else list(sys.argv)
    replay_all = False  # a rebuilt meta.json on real trainings: replay (and so check) every search
    if rebuild:
        from strategies.rebuild_meta import rebuild_meta

        lock = lock_run_dir(out)
        try:
            meta, replay_all = rebuild_meta(out, config, bench, command_line)
        except BaseException:
            os.close(lock)
            raise
    elif resume:
        meta = read_meta(out)  # names what is left when meta.json is gone
        compare_options(meta, config.to_json())
        check_plugins(meta, config.strategies)
        lock = lock_run_dir(out)
    else:
        lock = prepare_new(out)
        meta = build_meta(config, bench, command_line)
    try:
        journal_path = out / JOURNAL_NAME
        try:
            if resume:
                drop_partial_tail(journal_path)
                meta["resumed"].append(
                    {
                        "command_line": command_line,
                        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                )
            write_meta(out, meta)
            journal_path.touch()
        except OSError as exc:
            raise dir_error(out, exc) from None
        checked = read_checked(
            journal_path, meta
        )  # lines that do not belong are named, then ignored
        contents = checked.contents
        all_tasks = [(s, seed) for s in config.strategies for seed in config.seeds]
        tasks = [t for t in all_tasks if replay_all or t not in contents.done]
        _S.config, _S.bench, _S.journal_path = config, bench, journal_path
        if bench.kind == "tabular":
            table_lookup(bench, config.dataset)  # built once here, inherited by forked workers
            if early_stop_from_json(config.early_stop).active:
                curve_table(bench, config.dataset, max(bench.fidelities_for(config.dataset)))
        _S.replay = {t: contents.rows[t] for t in tasks if t in contents.rows}
        per_run = config.budget_queries
        total = per_run * len(all_tasks) if per_run else None
        initial = sum(len(contents.rows.get(t, {})) for t in all_tasks if t in contents.done)
        with _progress(total, initial, quiet) as bar:
            _execute(tasks, jobs, bar)
            if total is not None:
                bar.update(total - bar.n)
        # warn at the end only when the start did not already (a resume re-reads the same lines)
        final = write_results(out, meta, warn=not (checked.left_out or contents.damaged_lines))
    except OSError as exc:
        raise dir_error(out, exc) from None
    finally:
        os.close(lock)
    return RunSummary(out, len(all_tasks), final.n_rows, len(tasks), time.perf_counter() - t0)
