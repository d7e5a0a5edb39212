"""Epochs of one training schedule as fidelities: the view multi-fidelity searches need on a table with curves.

A table such as ``datasets/nb201-fmnist-mini.h5`` records one schedule (20 epochs) with per-epoch curves.
``EpochFidelities(table, rungs=(4, 20))`` answers the same cells at epochs 4 and 20 *of that schedule*: the
value at fidelity r is the curve's value after epoch r (per recorded seed), its cost the seconds of training
and validation up to epoch r. Unlike NB201's 12- and 200-epoch results (two separate schedules, never
spliced: see DESIGN.md "Conventions"), a rung here is a prefix of the final training, so an extrapolator may
read it as the start of the final curve; ``fidelity_kind = "epochs"`` says so.

Cost of a rung is counted from scratch (epoch 1 to r), as the runner charges every evaluation; a promoted
cell that resumed from its checkpoint would only pay the epochs after the last rung, so multi-fidelity
searches on this view are charged for more than a real run would spend.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from surrogate.benchmark import Records
from surrogate.errors import NasscoutError


class EpochFidelities:
    """A tabular benchmark with curves, its one schedule's epochs ``rungs`` exposed as fidelities."""

    kind = "tabular"
    fidelity_kind = "epochs"

    def __init__(self, table: Any, rungs: tuple[int, ...] | list[int]) -> None:
        self.table = table
        self.space = table.space
        self.datasets = table.datasets
        self.path = table.path
        self.name = table.name
        self._top: dict[str, int] = {}
        for ds in self.datasets:
            fids = table.fidelities_for(ds)
            if len(fids) != 1:
                raise NasscoutError(
                    f"{table.name} records {len(fids)} schedules for {ds} ({', '.join(map(str, fids))} "
                    "epochs); epochs of one schedule need a table with exactly one"
                )
            if "valid_acc" not in table.curve_metrics(ds, fids[0]):
                raise NasscoutError(
                    f"{table.name} has no per-epoch valid_acc curves for {ds}; epochs as fidelities need them"
                )
            self._top[ds] = int(fids[0])
        top = min(self._top.values())
        r = sorted({int(x) for x in rungs})
        if not r or r[0] < 1 or r[-1] != top or len(r) < 2:
            raise NasscoutError(
                f"rungs {list(rungs)!r} are invalid; accepted: two or more epochs in 1..{top}, the last {top}"
            )
        self.rungs = tuple(r)

    # ---- the contract -----------------------------------------------------------------------------------
    def dataset(self, name: str) -> str:
        return self.table.dataset(name)

    def metric(self, dataset: str) -> Any:
        return self.table.metric(dataset)

    def fidelities_for(self, dataset: str) -> tuple[int, ...]:
        self.dataset(dataset)
        return self.rungs

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]:
        ds = self.dataset(dataset)
        return self.table.seeds(ds, self._top[ds])

    def cells_for(self, dataset: str) -> np.ndarray:
        return self.table.cells_for(dataset)

    def _rung(self, fidelity: int | None) -> int:
        if fidelity is None:
            return self.rungs[-1]
        if fidelity not in self.rungs:
            raise NasscoutError(
                f"fidelity {fidelity!r} is not a rung; accepted: {', '.join(map(str, self.rungs))} epochs"
            )
        return int(fidelity)

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: Any = None
    ) -> Records:
        ds = self.dataset(dataset)
        r, T = self._rung(fidelity), self._top[ds]
        # a Generator: each read below draws the same seeds the query draws (copies of its state)
        s_valid, s_test = copy.deepcopy(seed), copy.deepcopy(seed)
        full = self.table.query(archs, dataset=ds, fidelity=T, seed=seed)
        if r == T:
            return full
        valid = self.curves(archs, dataset=ds, fidelity=r, seed=s_valid)[:, -1]
        test = (
            self.curves(archs, dataset=ds, fidelity=r, metric="test_acc", seed=s_test)[:, -1]
            if "test_acc" in self.table.curve_metrics(ds, T)
            else np.full(len(valid), np.nan)
        )
        secs = self.cost(archs, dataset=ds, fidelity=r)
        return Records(
            full.index,
            valid,
            test,
            secs,
            full.params_m,
            full.latency_s,
            full.flops_m,
            ds,
            r,
            full.seed,
        )

    def curves(
        self,
        archs: Any,
        *,
        dataset: str,
        fidelity: int | None = None,
        metric: str = "valid_acc",
        seed: Any = None,
    ) -> np.ndarray:
        """The first ``fidelity`` epochs of the schedule's curves."""
        ds = self.dataset(dataset)
        r = self._rung(fidelity)
        return self.table.curves(
            archs, dataset=ds, fidelity=self._top[ds], metric=metric, seed=seed
        )[:, :r]

    def curve_metrics(self, dataset: str, fidelity: int | None = None) -> tuple[str, ...]:
        ds = self.dataset(dataset)
        return self.table.curve_metrics(ds, self._top[ds])

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        """Seconds of training + validation from epoch 1 to the rung (a share of the full run's by the
        per-epoch times where the table has them, else by epochs)."""
        ds = self.dataset(dataset)
        r, T = self._rung(fidelity), self._top[ds]
        full = self.table.cost(archs, dataset=ds, fidelity=T)
        have = self.curve_metrics(ds)
        if "epoch_time_s" not in have:
            return full * r / T
        kw = {"dataset": ds, "fidelity": T, "seed": "mean"}
        t = np.nan_to_num(self.table.curves(archs, metric="epoch_time_s", **kw), nan=0.0)
        if "valid_time_s" in have:
            t = t + np.nan_to_num(self.table.curves(archs, metric="valid_time_s", **kw), nan=0.0)
        total = t.sum(axis=1)
        share = np.where(total > 0, t[:, :r].sum(axis=1) / np.where(total > 0, total, 1.0), r / T)
        return full * share

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        ds = self.dataset(dataset)
        return self.table.best(ds, metric=metric, fidelity=self._top[ds])

    def info(self) -> dict[str, Any]:
        return self.table.info() | {
            "fidelities_are": "epochs of one schedule",
            "rungs": list(self.rungs),
        }
