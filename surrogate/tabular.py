"""Tabular benchmark: every answer is numpy indexing into arrays loaded from one HDF5 file."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import ACCURACY, Metric, Records, SeedSpec, resolve_dataset
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace
from surrogate.spaces import get_space
from surrogate.store import StoreData, read_store

METRICS = ("valid_acc", "test_acc", "train_time_s", "params_m", "latency_s", "flops_m")


class _Fidelity:
    """Arrays for one dataset at one schedule length, with the per-row facts queries need precomputed."""

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str, seeds: list[int]):
        self.valid = arrays[f"{prefix}/valid_acc"].astype(np.float64)
        n = len(self.valid)
        nan = np.full_like(self.valid, np.nan)
        self.test = arrays.get(f"{prefix}/test_acc")
        self.test = nan if self.test is None else self.test.astype(np.float64)
        time = arrays.get(f"{prefix}/train_time_s")
        self.time = nan if time is None else time.astype(np.float64)
        self.untimed = (
            time is None
        )  # no training times at all: an evaluation costs 0 simulated seconds
        if self.time.ndim == 1:
            self.time = self.time[:, None]
        self.seeds = [int(s) for s in seeds] if len(seeds) else list(range(self.valid.shape[1]))
        self.curves = {
            k.rsplit("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{prefix}/curves/")
        }
        with np.errstate(all="ignore"):
            self.valid_mean = _nanmean(self.valid)
            self.test_mean = _nanmean(self.test)
            self.time_mean = _nanmean(self.time)
        self.n_seeds = (~np.isnan(self.valid)).sum(axis=1)
        # per row, the seed columns that hold a value come first: a random draw picks among those
        self.present_first = np.argsort(np.isnan(self.valid), axis=1, kind="stable")
        self.rows = np.arange(n)
        self.has_test = not np.all(np.isnan(self.test))


def _nanmean(a: np.ndarray) -> np.ndarray:
    cnt = (~np.isnan(a)).sum(axis=1)
    tot = np.where(np.isnan(a), 0.0, a).sum(axis=1)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


class TabularBenchmark:
    """A benchmark answered from a nasscout HDF5 file (NB201 tables, NATS imports, our own full runs)."""

    kind = "tabular"

    def __init__(self, data: StoreData, *, space: SearchSpace | None = None):
        # the file names its space (files written before there were several spaces are NB201)
        held = str(data.attrs.get("space", "nb201"))
        self.space = space or get_space(held)
        if self.space.name != held:
            raise NasscoutError(f"{data.path} holds {held} cells, not {self.space.name} cells")
        self.path = data.path
        self.name = str(data.attrs.get("name", data.path.stem))
        self.description = str(data.attrs.get("description", ""))
        self.sources = data.sources
        self.attrs = data.attrs
        self._group_attrs = data.group_attrs
        arrays = data.arrays
        self.cells = arrays["cells"].astype(np.int64)
        n_space = self.space.n_cells
        self._pos = np.full(n_space, -1, dtype=np.int64)
        self._pos[self.cells] = np.arange(len(self.cells))
        self._dense = len(self.cells) == n_space and bool(
            np.array_equal(self.cells, np.arange(n_space))
        )
        # a dataset may hold a subset of the cells (``/<dataset>/cells``; rows follow that array)
        self._ds_cells: dict[str, np.ndarray] = {}
        self._ds_pos: dict[str, np.ndarray] = {}
        for key, a in arrays.items():
            if key.count("/") == 1 and key.endswith("/cells"):
                ds = key.split("/")[0]
                self._ds_cells[ds] = a.astype(np.int64)
                self._ds_pos[ds] = np.full(n_space, -1, dtype=np.int64)
                self._ds_pos[ds][self._ds_cells[ds]] = np.arange(len(a))
        self._fid: dict[tuple[str, int], _Fidelity] = {}
        self._static: dict[str, dict[str, np.ndarray]] = {}
        self._extra: dict[str, dict[str, np.ndarray]] = {}
        datasets: list[str] = []
        fids: set[int] = set()
        for key in arrays:
            parts = key.split("/")
            if len(parts) >= 3 and parts[1].startswith("fid_") and parts[2] == "valid_acc":
                ds, fid = parts[0], int(parts[1][4:])
                seeds = data.group_attrs.get(f"{ds}/fid_{fid}", {}).get("seeds", [])
                self._fid[(ds, fid)] = _Fidelity(arrays, f"{ds}/fid_{fid}", list(np.asarray(seeds)))
                if ds not in datasets:
                    datasets.append(ds)
                fids.add(fid)
            elif len(parts) == 3 and parts[1] in ("static", "extra"):
                target = self._static if parts[1] == "static" else self._extra
                target.setdefault(parts[0], {})[parts[2]] = arrays[key].astype(np.float64)
        listed = json.loads(str(data.attrs.get("dataset_order", "[]")))  # the source's own order
        order = {d: i for i, d in enumerate(listed or ["cifar10", "cifar100", "ImageNet16-120"])}
        self.datasets = tuple(sorted(datasets, key=lambda d: (order.get(d, len(order)), d)))
        self.fidelities = tuple(sorted(fids))
        if not self.datasets:
            raise NasscoutError(f"{self.path} holds no accuracies")
        n = len(self.cells)
        self._nan = np.full(n, np.nan)

    # ---- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, rebuild_hint: str = "") -> TabularBenchmark:
        return cls(read_store(Path(path), rebuild_hint=rebuild_hint))

    # ---- validation helpers -----------------------------------------------------------------------
    def dataset(self, name: str) -> str:
        return resolve_dataset(name, self.datasets)

    def fidelities_for(self, dataset: str) -> tuple[int, ...]:
        ds = self.dataset(dataset)
        return tuple(f for f in self.fidelities if (ds, f) in self._fid)

    def metric(self, dataset: str) -> Metric:
        """What ``valid_acc`` means for ``dataset`` (group attributes ``metric``/``higher_is_better``)."""
        attrs = self._group_attrs.get(self.dataset(dataset), {})
        if "metric" not in attrs:
            return ACCURACY
        return Metric(str(attrs["metric"]), bool(attrs.get("higher_is_better", True)))

    def _fidelity(self, dataset: str, fidelity: int | None) -> tuple[str, int, _Fidelity]:
        ds = self.dataset(dataset)
        have = self.fidelities_for(ds)
        if fidelity is None:
            fidelity = have[-1]
        try:
            fid = int(fidelity)
        except (TypeError, ValueError):
            fid = None
        if fid not in have:
            accepted = ", ".join(str(f) for f in have)
            raise NasscoutError(
                f"unknown fidelity {fidelity!r} for {ds}; accepted epochs: {accepted}"
            )
        return ds, fid, self._fid[(ds, fid)]

    def cells_for(self, dataset: str) -> np.ndarray:
        """The cells a dataset can answer (all of ``cells`` unless the file holds a subset for it)."""
        ds = self.dataset(dataset)
        return self._ds_cells.get(ds, self.cells)

    def rows(self, archs: Any, dataset: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cell indices, row positions in this file's arrays of ``dataset``) for any collection of cells."""
        idx = self.space.indices(archs)
        if dataset is not None and dataset in self._ds_pos:
            pos = self._ds_pos[dataset][idx]
            if pos.size and pos.min() < 0:
                raise self._missing_error(int(idx[pos < 0][0]), dataset)
            return idx, pos
        if self._dense:
            return idx, idx
        pos = self._pos[idx]
        if pos.size and pos.min() < 0:
            missing = int(idx[pos < 0][0])
            raise NasscoutError(
                f"cell {missing} ({self.space.format(missing)}) is not in benchmark {self.name!r}, "
                f"which holds {len(self.cells)} cells (see `nasscout bench info`)"
            )
        return idx, pos

    def _missing_error(self, index: int, dataset: str) -> NasscoutError:
        """A cell outside a dataset's subset: name the choices no cell of the subset uses."""
        sub = self.space.cell_ops[self._ds_cells[dataset]]
        ops = self.space.cell_ops[index]
        lacking, accepted = [], set()
        for p, choice in enumerate(ops.tolist()):
            used = set(np.unique(sub[:, p]).tolist())
            if len(used) < len(self.space.choices[p]):
                accepted |= {self.space.choices[p][c] for c in used}
                if choice not in used:
                    lacking.append(self.space.choices[p][choice])
        names = ", ".join(dict.fromkeys(lacking))
        why = (
            f"{dataset} was trained without {names}; accepted ops: {', '.join(sorted(accepted))}"
            if lacking
            else f"{dataset} holds only {len(sub)} of the cells"
        )
        return NasscoutError(
            f"cell {index} ({self.space.format(index)}) is not in {self.name!r} for {dataset}: {why}"
        )

    # ---- the Benchmark contract -------------------------------------------------------------------
    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records:
        ds, fid, F = self._fidelity(dataset, fidelity)
        idx, pos = self.rows(archs, ds)
        if seed is None or (isinstance(seed, str) and seed == "mean"):
            valid, test, label = F.valid_mean[pos], F.test_mean[pos], "mean"
        elif isinstance(seed, np.random.Generator):
            u = seed.random(len(pos))
            col = F.present_first[pos, (u * F.n_seeds[pos]).astype(np.int64)]
            valid, test, label = F.valid[pos, col], self._test_at(F, pos, col), "draw"
        else:
            col = self._seed_column(F, seed, ds, fid)
            valid, test, label = F.valid[pos, col], self._test_at(F, pos, col), F.seeds[col]
        static = self._static.get(ds, {})
        return Records(
            index=idx,
            valid_acc=valid,
            test_acc=test,
            train_time_s=F.time_mean[pos],
            params_m=static["params_m"][pos] if "params_m" in static else self._nan[pos],
            latency_s=static["latency_s"][pos] if "latency_s" in static else self._nan[pos],
            flops_m=static["flops_m"][pos] if "flops_m" in static else self._nan[pos],
            dataset=ds,
            fidelity=fid,
            seed=label,
        )

    @staticmethod
    def _test_at(F: _Fidelity, pos: np.ndarray, col: Any) -> np.ndarray:
        if F.test.shape[1] == F.valid.shape[1]:
            return F.test[pos, col]
        return F.test_mean[pos]  # test recorded once per cell, not per seed

    @staticmethod
    def _seed_column(F: _Fidelity, seed: Any, ds: str, fid: int) -> int:
        accepted = f"accepted: 'mean', or one of the recorded seeds {', '.join(map(str, F.seeds))}"
        try:
            s = int(seed)
        except (TypeError, ValueError):
            raise NasscoutError(
                f"unknown seed {seed!r} for {ds} at {fid} epochs; {accepted}"
            ) from None
        if s not in F.seeds:
            raise NasscoutError(f"unknown seed {seed!r} for {ds} at {fid} epochs; {accepted}")
        return F.seeds.index(s)

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        ds, _, F = self._fidelity(dataset, fidelity)
        cost = F.time_mean[self.rows(archs, ds)[1]]
        return np.zeros_like(cost) if F.untimed else cost

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        ds, _, F = self._fidelity(dataset, fidelity)
        values = {"valid_acc": F.valid_mean, "test_acc": F.test_mean}.get(metric)
        if values is None:
            raise NasscoutError(f"unknown metric {metric!r}; accepted: valid_acc, test_acc")
        if np.all(np.isnan(values)):
            raise NasscoutError(f"{metric} is not recorded for {ds} in benchmark {self.name!r}")
        row = int(np.nanargmax(values))
        return int(self._ds_cells.get(ds, self.cells)[row]), float(values[row])

    # ---- beyond the contract ------------------------------------------------------------------------
    def n_seeds(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        ds, _, F = self._fidelity(dataset, fidelity)
        return F.n_seeds[self.rows(archs, ds)[1]]

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]:
        return list(self._fidelity(dataset, fidelity)[2].seeds)

    def curve_metrics(self, dataset: str, fidelity: int | None = None) -> tuple[str, ...]:
        return tuple(sorted(self._fidelity(dataset, fidelity)[2].curves))

    def curves(
        self,
        archs: Any,
        *,
        dataset: str,
        fidelity: int | None = None,
        metric: str = "valid_acc",
        seed: SeedSpec = None,
    ) -> np.ndarray:
        """Per-epoch values, shape (n, epochs), of one schedule (never spliced across fidelities)."""
        ds, fid, F = self._fidelity(dataset, fidelity)
        if metric not in F.curves:
            have = ", ".join(sorted(F.curves)) or "none (this benchmark records final values only)"
            raise NasscoutError(f"no {metric!r} curves for {ds} at {fid} epochs; recorded: {have}")
        _, pos = self.rows(archs, ds)
        c = F.curves[metric]  # index first, then cast: a full archive's curves are hundreds of MB
        if seed is None or seed == "mean":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # epochs no seed recorded stay NaN
                return np.nanmean(c[pos].astype(np.float64), axis=1)
        if isinstance(seed, np.random.Generator):
            u = seed.random(len(pos))
            col = F.present_first[pos, (u * F.n_seeds[pos]).astype(np.int64)]
            return c[pos, col].astype(np.float64)
        return c[pos, self._seed_column(F, seed, ds, fid)].astype(np.float64)

    def extra(self, archs: Any, *, dataset: str, field: str) -> np.ndarray:
        """Other per-cell numbers held by the file (e.g. 'zen', 'naslib_valid_acc', 'zc_synflow')."""
        ds = self.dataset(dataset)
        have = self._extra.get(ds, {})
        if field not in have:
            raise NasscoutError(
                f"unknown field {field!r} for {ds}; accepted: {', '.join(sorted(have)) or 'none'}"
            )
        return have[field][self.rows(archs, ds)[1]]

    def fields(self, dataset: str) -> list[str]:
        """Which fields this benchmark can answer for a dataset (absent ones are reported as missing)."""
        ds = self.dataset(dataset)
        out: list[str] = []
        for fid in self.fidelities_for(ds):
            F = self._fid[(ds, fid)]
            out.append(f"valid_acc@{fid}")
            if F.has_test:
                out.append(f"test_acc@{fid}")
            if not np.all(np.isnan(F.time)):
                out.append(f"train_time_s@{fid}")
            out += [f"curves/{m}@{fid}" for m in sorted(F.curves)]
        out += sorted(self._static.get(ds, {}))
        out += [f"extra/{k}" for k in sorted(self._extra.get(ds, {}))]
        return out

    def info(self) -> dict[str, Any]:
        best = {}
        for ds in self.datasets:
            idx, val = self.best(ds)
            best[ds] = {"index": idx, "arch": self.space.format(idx), "valid_acc": round(val, 4)}
        epochs = {
            f"{ds}@{fid}": int(next(iter(F.curves.values())).shape[2])
            for (ds, fid), F in self._fid.items()
            if F.curves
        }
        return {
            "name": self.name,
            "path": str(self.path),
            "space": self.space.name,
            "arch_format": self.space.arch_format,
            "metrics": {
                ds: {**self.metric(ds).to_json(), "cells": int(len(self.cells_for(ds)))}
                for ds in self.datasets
            },
            "cost_note": str(self.attrs.get("cost_note", "")),
            "fidelity_note": str(self.attrs.get("fidelity_note", "")),
            "cells": int(len(self.cells)),
            "unique_cells": int(len(np.unique(self.space.class_ids[self.cells]))),
            "datasets": list(self.datasets),
            "fidelities": list(self.fidelities),
            "seeds": {
                f"{ds}@{fid}": [int(s) for s in F.seeds] for (ds, fid), F in self._fid.items()
            },
            "epochs": epochs,
            "fields": {ds: self.fields(ds) for ds in self.datasets},
            "sources": self.sources,
            "best": best,
            "created_utc": self.attrs.get("created_utc"),
            "nasscout_version": self.attrs.get("nasscout_version"),
        }

    def __repr__(self) -> str:
        return f"TabularBenchmark({self.name!r}, cells={len(self.cells)}, datasets={self.datasets})"
