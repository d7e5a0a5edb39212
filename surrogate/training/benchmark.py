"""TrainingBenchmark: the Benchmark contract answered by training cells for real, cached in a run store.

Every strategy can therefore search on real training exactly as on a table (``nasscout run --benchmark
train:fashion-mnist``): ``query`` trains the cells it has not seen (in this process), records
them in the run store and answers from it; asking again costs nothing. ``cost`` is the measured seconds of
training + validation of a trained cell. For cells not trained yet ``cost`` does not train: it estimates
their seconds from their FLOPs at the store's measured seconds per MFLOP (or, in an empty store, from timing
a few training steps), which is all a budget check needs. ``best`` is the best cell trained so far, and ``cells`` the cells trained so far (what
code scanning "all cells" of a benchmark sees), so a search on real training measures regret against the
cells the store knows; a store must hold at least one run before a search starts.

``train:DATASET[:PRESET[:STORE]]`` names one (DATASET may be ``npz:PATH``, your own images): the default
store is ``$NASSCOUT_HOME/runs/DATASET-PRESET-eE.h5`` (``npz-STEM-SHA8`` for your file), started from the
committed ``datasets/nb201-fmnist-mini.h5`` when it was made with the same recipe, so its cells are answered
without training.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import ACCURACY, Metric, Records, SeedSpec
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.data import canonical_dataset
from surrogate.training.presets import Preset, get_preset
from surrogate.training.runstore import RunStore, copy_store, file_settings, make_settings

REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"
COMMITTED = {("fashion-mnist", "cpu-mini"): REPO_DATASETS / "nb201-fmnist-mini.h5"}


class TrainingBenchmark:
    """Answers by training with one recipe (dataset + preset), remembering every run in ``store``.

    It trains in the process that queries it: where trainings run, and how many at once, is the search
    backend's business (``strategies.backends``: a process pool or Dask workers each query their own copy,
    and the store takes concurrent writers).
    """

    kind = "training"

    def __init__(
        self,
        dataset: str = "fashion-mnist",
        preset: str | Preset = "cpu-mini",
        *,
        store: str | os.PathLike,
        seeds: tuple[int, ...] = (0,),
        device: str = "auto",
    ) -> None:
        self.space = NB201Space()
        self.preset = get_preset(preset) if isinstance(preset, str) else preset
        self.dataset_name = canonical_dataset(dataset)
        self.store = RunStore(store, self.dataset_name, self.preset)
        self.path = self.store.path
        self.name = f"train:{self.dataset_name}:{self.preset.name}"
        self.datasets = (self.dataset_name,)
        self.fidelities = (self.preset.epochs,)
        seeds = tuple(int(s) for s in seeds)
        if not seeds or min(seeds) < 0:
            raise NasscoutError(f"seeds={seeds!r} is invalid; accepted: one or more integers >= 0")
        self.train_seeds = seeds
        self.device = device
        self._known: dict[tuple[int, int], dict[str, Any]] = dict(self.store.results())
        self._rate: float | None = None

    @property
    def cells(self) -> np.ndarray:
        """Cells answered without training (every seed of ``train_seeds`` done), ascending.

        Code that scans "every cell of a benchmark" (oracle tables, hypervolume references, budget caps)
        reads this, so it sees the cells trained so far instead of training all 15,625.
        """
        self._known.update(self.store.results())
        have = {c for c, _ in self._known}
        done = [c for c in sorted(have) if all((c, s) in self._known for s in self.train_seeds)]
        return np.asarray(done, dtype=np.int64)

    # ---- names -------------------------------------------------------------------------------------
    def dataset(self, name: str) -> str:
        try:
            ds = canonical_dataset(name)
        except NasscoutError:
            ds = None
        if ds != self.dataset_name:
            raise NasscoutError(
                f"unknown dataset {name!r} for {self.name}; accepted: {self.dataset_name}"
            )
        return ds

    def fidelities_for(self, dataset: str) -> tuple[int, ...]:
        self.dataset(dataset)
        return self.fidelities

    def metric(self, dataset: str) -> Metric:
        self.dataset(dataset)
        return ACCURACY

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]:
        """The training seeds behind an answer (a noisy observation picks one of them)."""
        self.dataset(dataset)
        self._fidelity(fidelity)
        return list(self.train_seeds)

    def cells_for(self, dataset: str) -> np.ndarray:
        self.dataset(dataset)
        return self.cells

    def _fidelity(self, fidelity: int | None) -> int:
        if fidelity is None:
            return self.preset.epochs
        if (
            isinstance(fidelity, bool)
            or not isinstance(fidelity, (int, np.integer))
            or (int(fidelity) != self.preset.epochs)
        ):
            raise NasscoutError(
                f"unknown fidelity {fidelity!r} for {self.name}; accepted epochs: {self.preset.epochs} "
                "(a shorter schedule is another preset: --epochs makes a new store)"
            )
        return int(fidelity)

    # ---- training on demand ------------------------------------------------------------------------------
    def ensure(self, pairs: list[tuple[int, int]]) -> None:
        """Train every (cell, seed) not known yet (another process may have finished it meanwhile)."""
        from surrogate.training.executors import train_many

        missing = []
        for key in dict.fromkeys(pairs):
            if key in self._known:
                continue
            r = self.store.result(*key)
            if r is None:
                missing.append(key)
            else:
                self._known[key] = r
        if not missing:
            return
        print(
            f"nasscout: training {len(missing)} run{'s' * (len(missing) > 1)} of {self.name} "
            f"into {self.store.path}",
            file=sys.stderr,
        )
        for r in train_many(
            self.store.path,
            missing,
            workers=1,
            device=self.device,
        ):
            self._known[(int(r["cell"]), int(r["seed"]))] = r
        self.store.consolidate()

    def _seed_plan(self, idx: np.ndarray, seed: SeedSpec) -> tuple[list[list[int]], Any]:
        if seed is None or (isinstance(seed, str) and seed == "mean"):
            return [list(self.train_seeds) for _ in idx], "mean"
        if isinstance(seed, np.random.Generator):
            u = seed.random(len(idx))
            picks = (u * len(self.train_seeds)).astype(np.int64)
            return [[self.train_seeds[p]] for p in picks], "draw"
        if isinstance(seed, (bool, str)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise NasscoutError(
                f"unknown seed {seed!r}; accepted: 'mean', a Generator, or a training seed >= 0"
            )
        return [[int(seed)] for _ in idx], int(seed)

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records:
        """Train what is missing, then answer like a table (accuracies of the last epoch, percent)."""
        ds = self.dataset(dataset)
        fid = self._fidelity(fidelity)
        idx = self.space.indices(archs)
        plan, label = self._seed_plan(idx, seed)
        self.ensure([(int(c), s) for c, seeds in zip(idx.tolist(), plan) for s in seeds])
        n = len(idx)
        valid, test, tsec, params, flops = (np.full(n, np.nan) for _ in range(5))
        for i, (c, seeds) in enumerate(zip(idx.tolist(), plan)):
            rs = [self._known[(c, s)] for s in seeds]
            valid[i] = np.mean([r["valid_acc"] for r in rs])
            test[i] = np.mean([r["test_acc"] for r in rs])
            tsec[i] = np.mean([r["train_time_s"] for r in rs])
            params[i], flops[i] = rs[0]["params_m"], rs[0]["flops_m"]
        return Records(
            index=idx,
            valid_acc=valid,
            test_acc=test,
            train_time_s=tsec,
            params_m=params,
            latency_s=np.full(n, np.nan),
            flops_m=flops,
            dataset=ds,
            fidelity=fid,
            seed=label,
        )

    def curves(
        self,
        archs: Any,
        *,
        dataset: str,
        fidelity: int | None = None,
        metric: str = "valid_acc",
        seed: SeedSpec = None,
    ) -> np.ndarray:
        """Per-epoch values (n, epochs), training what is missing; mean over seeds by default."""
        from surrogate.training.trainer import CURVE_METRICS

        if metric not in CURVE_METRICS:
            raise NasscoutError(f"unknown metric {metric!r}; accepted: {', '.join(CURVE_METRICS)}")
        self.dataset(dataset)
        self._fidelity(fidelity)
        idx = self.space.indices(archs)
        plan, _ = self._seed_plan(idx, seed)
        self.ensure([(int(c), s) for c, seeds in zip(idx.tolist(), plan) for s in seeds])
        out = np.empty((len(idx), self.preset.epochs))
        for i, (c, seeds) in enumerate(zip(idx.tolist(), plan)):
            out[i] = np.mean([self._known[(c, s)]["curves"][metric] for s in seeds], axis=0)
        return out

    def _seconds_per_mflop(self) -> float:
        if self._rate is not None:
            return self._rate
        runs = [r for r in self._known.values() if r["status"] == "ok" and r["flops_m"] > 0]
        if runs:
            self._rate = float(np.median([r["train_time_s"] / r["flops_m"] for r in runs]))
        else:
            self._rate = _probe_seconds_per_mflop(self.dataset_name, self.preset)
        return self._rate

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        """Measured seconds of training + validation; an estimate from FLOPs for untrained cells."""
        from surrogate.costmodel import flops_m

        self.dataset(dataset)
        self._fidelity(fidelity)
        idx = self.space.indices(archs)
        out = np.full(len(idx), np.nan)
        todo = []
        for i, c in enumerate(idx.tolist()):
            times = [
                self._known[(c, s)]["train_time_s"]
                for s in self.train_seeds
                if (c, s) in self._known
            ]
            if times:
                out[i] = float(np.mean(times))
            else:
                todo.append(i)
        if todo:
            from surrogate.training.data import dataset_info

            _, n_classes, channels, native = dataset_info(self.dataset_name)
            side = self.preset.image_size or native
            fl = flops_m(
                idx[todo], n_classes=n_classes, C=self.preset.C, N=self.preset.N, input_hw=side
            )
            fl -= (3 - channels) * 9 * self.preset.C * side * side / 1e6  # the stem's real input
            out[todo] = fl * self._seconds_per_mflop()
        return out

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        """The best cell trained so far by seed-mean ``metric`` (what regret is measured against)."""
        self.dataset(dataset)
        self._fidelity(fidelity)
        if metric not in ("valid_acc", "test_acc"):
            raise NasscoutError(f"unknown metric {metric!r}; accepted: valid_acc, test_acc")
        self._known.update(self.store.results())
        per_cell: dict[int, list[float]] = {}
        for (c, _), r in self._known.items():
            per_cell.setdefault(c, []).append(r[metric])
        cells = sorted(per_cell)
        values = np.array([np.mean(per_cell[c]) for c in cells])
        if not cells or np.all(np.isnan(values)):
            raise NasscoutError(
                f"no cell of {self.name} is trained yet in {self.store.path}, so the best cell (the "
                "reference of regret) is unknown; train some first, e.g. `nasscout data build-fullruns "
                f"--dataset {self.dataset_name} --preset {self.preset.name} --cells 20 --store "
                f"{self.store.path}`"
            )
        i = int(np.nanargmax(values))
        return cells[i], float(values[i])

    def info(self) -> dict[str, Any]:
        from surrogate.tabular import TabularBenchmark

        if self.store.path.exists():
            out = TabularBenchmark.open(self.store.path).info()
        else:
            out = {
                "name": self.store.path.stem,
                "path": str(self.store.path),
                "space": self.space.name,
                "cells": 0,
                "unique_cells": 0,
                "datasets": [self.dataset_name],
                "fidelities": list(self.fidelities),
                "seeds": {},
                "epochs": {},
                "fields": {self.dataset_name: []},
                "sources": {},
                "best": {},
            }
        out.update(name=self.name, training=self.store.settings, train_seeds=list(self.train_seeds))
        return out

    def __repr__(self) -> str:
        return f"TrainingBenchmark({self.name!r}, store={str(self.store.path)!r}, runs={len(self._known)})"


def _probe_seconds_per_mflop(dataset: str, preset: Preset, steps: int = 3) -> float:
    """Seconds per MFLOP of a whole run, from timing a few training steps of a mid-size cell."""
    import torch
    import torch.nn.functional as F

    from surrogate.network import build_network
    from surrogate.training.data import load_splits
    from surrogate.training.trainer import analytic_flops_m

    splits = load_splits(dataset, preset)
    cell = 1000  # a mid-size cell: one 3x3 conv, one 1x1 conv, two skips, one none edge
    net = build_network(
        cell,
        C=preset.C,
        N=preset.N,
        n_classes=splits.n_classes,
        in_channels=splits.in_channels,
        seed=0,
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = splits.train_x[: preset.batch_size]
    y = splits.train_y[: preset.batch_size]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(net((x - splits.mean) / splits.std), y).backward()
            opt.step()
        per_step = (time.perf_counter() - t0) / steps
    finally:
        torch.set_num_threads(threads)
    n_steps = -(-len(splits.train_x) // preset.batch_size) * preset.epochs
    seconds = per_step * n_steps * (1 + len(splits.valid_x) / (3 * len(splits.train_x)))
    return seconds / analytic_flops_m(cell, preset, splits)


def open_training_benchmark(spec: str) -> TrainingBenchmark:
    """``train:DATASET[:PRESET[:STORE]]`` -> a TrainingBenchmark (see the module docstring)."""
    from surrogate.sources import nasscout_home
    from surrogate.training.userdata import is_user_dataset, user_dataset_sha256

    parts = spec.split(":", 3)
    if len(parts) > 2 and parts[1] == "npz":  # your own images: train:npz:PATH[:PRESET[:STORE]]
        head, *rest = spec.split(":", 5)[2:]
        parts = ["train", f"npz:{head}", *rest]
    if len(parts) < 2 or parts[0] != "train" or not parts[1] or parts[1] == "npz":
        raise NasscoutError(
            f"cannot read {spec!r}; accepted: train:DATASET[:PRESET[:STORE.h5]] (DATASET may be "
            "npz:PATH)"
        )
    dataset = canonical_dataset(parts[1])
    named = parts[2] if len(parts) > 2 and parts[2] else None
    preset = get_preset(named or "cpu-mini")
    if len(parts) > 3 and parts[3]:
        store = Path(parts[3])
        # an existing store knows its recipe (e.g. cpu-mini with 50 epochs): use it, so a worker process
        # reopening the same spec trains exactly what the store holds
        if store.exists() or store.with_suffix(".runs").is_dir():
            recorded = RunStore.open(store)
            if named is None or named == recorded.preset.name:
                preset = recorded.preset
    else:
        name = dataset
        if is_user_dataset(dataset):  # a file name without the path's slashes, tied to the content
            name = f"npz-{Path(dataset[4:]).stem}-{user_dataset_sha256(dataset)[:8]}"
        store = nasscout_home() / "runs" / f"{name}-{preset.name}-e{preset.epochs}.h5"
        seed_file = COMMITTED.get((dataset, preset.name))
        if not store.exists() and seed_file is not None and seed_file.exists():
            if file_settings(seed_file) == make_settings(dataset, preset):
                store.parent.mkdir(parents=True, exist_ok=True)
                copy_store(seed_file, store)
                print(f"nasscout: {store} starts from {seed_file}", file=sys.stderr)
    return TrainingBenchmark(dataset, preset, store=store)
