"""``oneshot:FILE``: the Benchmark contract answered by a trained supernet's inherited-weight accuracies.

A query is a cell's validation accuracy (percent) with the weights it inherits from the supernet in FILE
(BatchNorm recalibrated, see ``surrogate.training.supernet_score``); its cost is the measured seconds that
scoring took, so a search run on it reports what weight-sharing evaluation would cost (the supernet's own
training seconds are in ``info()``, paid once). The answers come from the score cache of FILE, filled by
``nasscout supernet score FILE --cells all|CELLS`` (the cache with the most cells is used, whatever its
settings); ``cells_for`` is the cells scored so far (every cell after ``--cells all``), and strategies search
among them, as on a partial table. A query for a cell not scored yet scores it now (and caches it).

The supernet is one training run: one "seed" (the supernet's), one fidelity (the epochs it was trained), no
test accuracy. Weight-sharing scores are estimates, not the truth: regret on this benchmark is measured
against the best *score*, so compare the chosen cells with real runs (``benchmarks/bench_supernet_rank.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import ACCURACY, Metric, Records, SeedSpec
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space


class OneShotBenchmark:
    """Inherited-weight accuracies of a supernet file, through its score cache (see the module docstring)."""

    kind = "oneshot"

    def __init__(self, path: str | os.PathLike, *, device: str = "auto") -> None:
        from surrogate.training.supernet_score import ScoreCache
        from surrogate.training.supernet_train import check_trained, read_supernet_file

        self.path = Path(path)
        data = read_supernet_file(self.path)
        check_trained(self.path, data)
        self.header = {k: v for k, v in data.items() if k != "state"}
        cache = ScoreCache.best_for(self.path)
        if cache is None:
            raise NasscoutError(
                f"no cell of {self.path} is scored yet; score the cells to search first, e.g. `nasscout "
                f"supernet score {self.path} --cells all --out scores.csv` (every cell, one per "
                "isomorphism class), or --cells FILE for a subset"
            )
        self.cache = cache
        self.device = device
        self.space = NB201Space()
        self.name = f"oneshot:{self.path}"
        self.datasets = (str(self.header["dataset"]),)
        self.fidelity = int(self.header["epochs_trained"])
        self.supernet_seed = int(self.header["seed"])

    # ---- names -------------------------------------------------------------------------------------------
    def dataset(self, name: str) -> str:
        from surrogate.benchmark import resolve_dataset

        try:
            return resolve_dataset(name, self.datasets)
        except NasscoutError:
            raise NasscoutError(
                f"unknown dataset {name!r} for {self.name}; accepted: {self.datasets[0]} (the supernet's)"
            ) from None

    def metric(self, dataset: str) -> Metric:
        self.dataset(dataset)
        return ACCURACY

    def fidelities_for(self, dataset: str) -> tuple[int, ...]:
        self.dataset(dataset)
        return (self.fidelity,)

    def _fid(self, dataset: str, fidelity: int | None) -> int:
        self.dataset(dataset)
        if fidelity is not None and (
            isinstance(fidelity, bool)
            or not isinstance(fidelity, (int, np.integer))
            or int(fidelity) != self.fidelity
        ):
            raise NasscoutError(
                f"unknown fidelity {fidelity!r} for {self.name}; accepted epochs: {self.fidelity} (the "
                "supernet's training)"
            )
        return self.fidelity

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]:
        self._fid(dataset, fidelity)
        return [self.supernet_seed]

    def cells_for(self, dataset: str) -> np.ndarray:
        self.dataset(dataset)
        return self.cache.known().astype(np.int64)

    # ---- answers -----------------------------------------------------------------------------------------
    def _answers(self, archs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self.space.indices(archs)
        missing = np.isnan(self.cache.score[idx])
        if missing.any():  # score what the cache lacks, now (and keep it)
            from surrogate.training.supernet_score import supernet_scores

            supernet_scores(self.path, idx[missing], self.cache.settings, device=self.device)
            self.cache._load()
        return idx, self.cache.score[idx], self.cache.seconds[idx]

    def _static(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from surrogate.costmodel import flops_m, params_m
        from surrogate.training.data import dataset_info

        p = self.header["preset"]
        _, n_classes, channels, native = dataset_info(self.datasets[0])
        side = p.get("image_size") or native
        fl = flops_m(idx, n_classes=n_classes, C=p["C"], N=p["N"], input_hw=side)
        fl = fl - (3 - channels) * 9 * p["C"] * side * side / 1e6  # the stem's real input channels
        return params_m(idx, n_classes=n_classes, C=p["C"], N=p["N"]), fl

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records:
        fid = self._fid(dataset, fidelity)
        if seed is None or isinstance(seed, np.random.Generator):
            label: Any = "mean" if seed is None else "draw"
        elif isinstance(seed, str) and seed == "mean":
            label = "mean"
        elif (
            not isinstance(seed, (bool, str))
            and isinstance(seed, (int, np.integer))
            and int(seed) == self.supernet_seed
        ):
            label = int(seed)
        else:
            raise NasscoutError(
                f"unknown seed {seed!r} for {self.name}; accepted: 'mean', a Generator, or the supernet's "
                f"seed {self.supernet_seed}"
            )
        idx, score, seconds = self._answers(archs)
        params, flops = self._static(idx)
        n = len(idx)
        return Records(
            index=idx,
            valid_acc=score.copy(),
            test_acc=np.full(n, np.nan),
            train_time_s=seconds.copy(),
            params_m=params,
            latency_s=np.full(n, np.nan),
            flops_m=flops,
            dataset=self.datasets[0],
            fidelity=fid,
            seed=label,
        )

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        """Measured seconds of scoring each cell on the supernet (its representative's, per class)."""
        self._fid(dataset, fidelity)
        return self._answers(archs)[2].copy()

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        """The best-scoring cell scored so far (the reference of regret on this benchmark)."""
        self._fid(dataset, fidelity)
        if metric != "valid_acc":
            raise NasscoutError(
                f"unknown metric {metric!r} for {self.name}; accepted: valid_acc (no test accuracy)"
            )
        cells = self.cache.known()
        scores = self.cache.score[cells]
        i = int(np.argmax(scores))
        return int(cells[i]), float(scores[i])

    def info(self) -> dict[str, Any]:
        """The keys of ``TabularBenchmark.info`` (so ``nasscout bench info`` reads it) plus ``oneshot``."""
        h, ds = self.header, self.datasets[0]
        cells = self.cache.known()
        index, value = self.best(ds)
        return {
            "name": self.name,
            "path": str(self.path),
            "space": self.space.name,
            "arch_format": self.space.arch_format,
            "metrics": {ds: {**ACCURACY.to_json(), "cells": int(len(cells))}},
            "cost_note": "measured seconds of scoring each cell on the supernet",
            "fidelity_note": "the supernet's training epochs",
            "cells": int(len(cells)),
            "unique_cells": int(len(np.unique(self.space.class_ids[cells]))),
            "datasets": [ds],
            "fidelities": [self.fidelity],
            "seeds": {f"{ds}@{self.fidelity}": [self.supernet_seed]},
            "epochs": {},
            "fields": {ds: [f"valid_acc@{self.fidelity}", f"train_time_s@{self.fidelity}"]},
            "sources": {"supernet": str(self.path)},
            "best": {
                ds: {"index": index, "arch": self.space.format(index), "valid_acc": round(value, 4)}
            },
            "created_utc": h.get("created_utc"),
            "nasscout_version": (h.get("versions") or {}).get("nasscout"),
            "oneshot": {
                "preset": h["preset"].get("name"),
                "sampling": h["sampling"],
                "epochs_trained": h["epochs_trained"],
                "train_seconds": h.get("train_seconds"),
                "train_cpu_seconds": h.get("train_cpu_seconds"),
                "scoring": self.cache.settings.to_json(),
                "versions": h.get("versions"),
            },
        }

    def __repr__(self) -> str:
        return f"OneShotBenchmark({str(self.path)!r}, cells={len(self.cache.known())})"
