"""How one trial becomes an :class:`~strategies.row.Outcome`: a function of (run seed, trial) alone.

A strategy observes one seed's validation value, drawn with a uniform that depends only on ``(seed, trial)``
(:func:`noise_uniforms`), or with ``observe="mean"`` the seed-mean (NASLib's protocol). The recorded truth is
the seed-mean validation value at the benchmark's final fidelity (``true_acc``) and the seed-mean test value
(``test_acc``, NaN where the benchmark has none). Because nothing else enters the draw, a resumed run, a
different number of processes or another backend evaluates exactly the same values.

Two evaluators, chosen by ``benchmark.kind``: a tabular benchmark is read once into per-cell Python lists
(:class:`TableLookup`, ~0.1 s, then a few list reads per trial); anything else (a surrogate, real training)
is asked through ``benchmark.query``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from strategies.row import Outcome
from surrogate.errors import NasscoutError

NOISE_BLOCK = 64
OBSERVE_MODES = ("seed", "mean")


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


def check_observe(observe: Any) -> str:
    if observe not in OBSERVE_MODES:
        raise NasscoutError(
            f"observe {observe!r} is invalid; accepted: seed (one seed's noisy value, the default) or "
            "mean (the seed-mean, NASLib's protocol)"
        )
    return str(observe)


class TableLookup:
    """One dataset of a tabular benchmark as plain per-cell Python lists, read once through its contract.

    Building costs ~0.1 s and is shared by every run of the process; afterwards an evaluation is a few list
    reads. The noisy draw picks among a cell's recorded seeds exactly as ``TabularBenchmark.query`` does with a
    Generator (``tests/test_runner.py`` checks that they agree bit for bit).
    """

    def __init__(self, benchmark: Any, dataset: str) -> None:
        n = benchmark.space.n_cells
        cells = np.asarray(benchmark.cells_for(dataset), dtype=np.int64)
        self.known = np.zeros(n, dtype=bool)
        self.known[cells] = True
        fids = benchmark.fidelities_for(dataset)
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
        self.mean: dict[int, list[float]] = {}
        self.draws: dict[int, list[list[float]]] = {}
        for f in fids:
            at_f = benchmark.query(cells, dataset=dataset, fidelity=f, seed="mean")
            self.cost[f] = full(benchmark.cost(cells, dataset=dataset, fidelity=f))
            self.train_time[f] = full(at_f.train_time_s)
            self.mean[f] = full(at_f.valid_acc)
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


def missing_cell(benchmark: Any, index: int, dataset: str) -> NasscoutError:
    return NasscoutError(
        f"cell {index} ({benchmark.space.format(index)}) is not in benchmark {benchmark.name!r} for "
        f"{dataset}; the strategy proposed a cell the benchmark cannot answer"
    )


class TableEvaluator:
    """Answers from a :class:`TableLookup` (a ``kind == "tabular"`` benchmark)."""

    def __init__(self, benchmark: Any, dataset: str, seed: int, observe: str = "seed") -> None:
        self.benchmark = benchmark
        self.dataset = dataset
        self.table = table_lookup(benchmark, dataset)
        self.seed = seed
        self.by_seed = check_observe(observe) == "seed"
        self._block = -1
        self._uniforms: list[float] = []

    def __call__(self, index: int, fidelity: int, trial: int) -> Outcome:
        t = self.table
        draws = t.draws[fidelity][index]
        if not draws and not t.known[index]:
            raise missing_cell(self.benchmark, index, self.dataset)
        if not self.by_seed:
            observed = t.mean[fidelity][index]
        elif draws:
            block, pos = divmod(trial, NOISE_BLOCK)
            if block != self._block:
                self._uniforms = noise_uniforms(self.seed, block)
                self._block = block
            observed = draws[int(self._uniforms[pos] * len(draws))]
        else:
            observed = math.nan
        return Outcome(
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
    """Answers by calling ``benchmark.query`` per evaluation (surrogates, real training)."""

    def __init__(self, benchmark: Any, dataset: str, seed: int, observe: str = "seed") -> None:
        self.benchmark = benchmark
        self.dataset = dataset
        self.seed = seed
        self.by_seed = check_observe(observe) == "seed"
        self.top = max(benchmark.fidelities_for(dataset))

    def __call__(self, index: int, fidelity: int, trial: int) -> Outcome:
        b, ds, cell = self.benchmark, self.dataset, np.array([index])
        draw = noise_rng(self.seed, trial) if self.by_seed else "mean"
        obs = b.query(cell, dataset=ds, fidelity=fidelity, seed=draw)
        truth = b.query(cell, dataset=ds, fidelity=self.top, seed="mean")
        cost = b.cost(cell, dataset=ds, fidelity=fidelity)
        return Outcome(
            float(obs.valid_acc[0]),
            float(truth.valid_acc[0]),
            float(truth.test_acc[0]),
            float(cost[0]),
            float(obs.params_m[0]),
            float(obs.latency_s[0]),
            float(obs.train_time_s[0]),
            float(obs.flops_m[0]),
        )


def make_evaluator(
    benchmark: Any, dataset: str, seed: int, observe: str = "seed"
) -> TableEvaluator | QueryEvaluator:
    cls = TableEvaluator if benchmark.kind == "tabular" else QueryEvaluator
    return cls(benchmark, dataset, seed, observe)


# ---- evaluation inside a worker process (local pool or Dask) -------------------------------------------------
_WORKER_EVALUATORS: dict[tuple[str, str, int, str], Any] = {}


def evaluate_in_worker(
    spec: str, dataset: str, seed: int, observe: str, index: int, fidelity: int, trial: int
) -> tuple:
    """Open ``spec`` in this process (once) and evaluate one trial; a plain tuple crosses the boundary."""
    key = (spec, dataset, seed, observe)
    ev = _WORKER_EVALUATORS.get(key)
    if ev is None:
        from surrogate.registry import load_benchmark

        ev = _WORKER_EVALUATORS[key] = make_evaluator(load_benchmark(spec), dataset, seed, observe)
    return tuple(ev(index, fidelity, trial))
